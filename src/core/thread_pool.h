// A fixed pool of worker threads. Work is split into tasks claimed dynamically; callers must make every
// task's result independent of which thread runs it and of how many threads exist (each output element is
// computed by exactly one task, in a fixed order), which is what makes ondi's results thread-count invariant.
//
// Decoding one token runs ~150 small parallel jobs (7 matmuls per layer, attention, ...), each a few tens of
// microseconds, so waking workers through the kernel (a futex round trip of several microseconds per job and
// per thread) would cost a noticeable share of the token. Idle workers therefore spin for a bounded time
// (kSpinMicros) watching for the next job before they block; the caller spins the same way for the workers to
// finish. Spinning stops after that bound, so an idle pool sleeps instead of burning cores.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ondi {

class ThreadPool {
 public:
  // n_threads counts the calling thread: 1 means no workers are started.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(task, thread) for task in [0, n_tasks) and returns when all are done. `thread` is in
  // [0, size()) and identifies per-thread scratch. Not re-entrant.
  void run(int64_t n_tasks, const std::function<void(int64_t task, int thread)>& fn);

  // Splits [0, n) into contiguous chunks whose sizes are multiples of `grain` (but the last) and runs
  // fn(begin, end, thread) on each.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t begin, int64_t end, int thread)>& fn);

  // How long an idle thread watches for work before it blocks.
  static constexpr int kSpinMicros = 200;

 private:
  void worker(int id);
  void drain(int thread);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_start_;
  std::condition_variable cv_done_;
  std::atomic<uint64_t> generation_{0};  // bumped (release) once a job is published
  std::atomic<bool> stop_{false};
  std::atomic<int> active_{0};  // workers that have not finished the current job
  int sleepers_ = 0;            // workers blocked on cv_start_ (guarded by mu_)
  const std::function<void(int64_t, int)>* job_ = nullptr;
  int64_t n_tasks_ = 0;
  std::atomic<int64_t> next_{0};
};

}  // namespace ondi

// `ondi bench MODEL`: prefill and decode throughput, time to first token, load time, peak memory, and decode speed
// against the machine's memory-bandwidth roofline (decode reads every weight once per token). Works on models
// without a tokenizer: the prompt is random token ids and decoding is greedy argmax over the returned logits.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common.h"

namespace ondi_cli {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

struct Stat {
  double median = 0, min = 0, max = 0;
};
Stat stat_of(std::vector<double> v) {
  Stat s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  s.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  s.min = v.front();
  s.max = v.back();
  return s;
}

// Field from /proc (e.g. "VmHWM:" in /proc/self/status, "model name" in /proc/cpuinfo): the text after the colon.
std::string proc_field(const char* file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const size_t b = line.find_first_not_of(" \t", colon + 1);
    return b == std::string::npos ? "" : line.substr(b);
  }
  return "";
}

uint64_t peak_rss_bytes() {
  const std::string v = proc_field("/proc/self/status", "VmHWM");  // "123456 kB"
  return v.empty() ? 0 : std::strtoull(v.c_str(), nullptr, 10) * 1024;
}

// Read bandwidth: `threads` threads each sum their slice of `data` (far larger than the caches). Several
// accumulators so the loads, not an add chain, bound it.
double read_pass_gbs(const uint64_t* data, size_t n, unsigned threads) {
  std::vector<uint64_t> sinks(threads);
  auto read = [&](size_t t) {
    const size_t b = n * t / threads, e = n * (t + 1) / threads;
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    size_t i = b;
    for (; i + 4 <= e; i += 4) {
      a0 += data[i];
      a1 += data[i + 1];
      a2 += data[i + 2];
      a3 += data[i + 3];
    }
    for (; i < e; ++i) a0 += data[i];
    sinks[t] = a0 + a1 + a2 + a3;
  };
  const auto t0 = Clock::now();
  std::vector<std::thread> ts;
  for (unsigned t = 1; t < threads; ++t) ts.emplace_back([&read, t] { read(t); });
  read(0);
  for (auto& th : ts) th.join();
  const double ms = ms_since(t0);
  volatile uint64_t keep = 0;
  for (uint64_t v : sinks) keep = keep + v;
  return static_cast<double>(n * sizeof(uint64_t)) / (ms * 1e6);
}

// The bandwidth decode can use, measured next to each decode run (the machine may change speed between runs; the
// roofline percentage pairs each run with its own measurement): read over the model file's own pages when the file
// is well above the caches (the same physical pages, and page sizes, the weights are read from), else over a
// `bw_mib` buffer. The first pass faults the pages in and is not counted.
class BandwidthProbe {
 public:
  BandwidthProbe(const std::string& path, int bw_mib, unsigned threads) : threads_(threads) {
    constexpr size_t kMinFile = size_t{256} << 20;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd >= 0 && fstat(fd, &st) == 0 && static_cast<size_t>(st.st_size) >= kMinFile) {
      void* p = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
      if (p != MAP_FAILED) {
        map_ = p;
        map_len_ = static_cast<size_t>(st.st_size);
        data_ = static_cast<const uint64_t*>(p);
        n_ = map_len_ / sizeof(uint64_t);
        source_ = "model file";
      }
    }
    if (fd >= 0) ::close(fd);
    if (!data_) {
      n_ = (static_cast<size_t>(bw_mib) << 20) / sizeof(uint64_t);
      buf_.reset(new uint64_t[n_]);
      for (size_t i = 0; i < n_; ++i) buf_[i] = i;
      data_ = buf_.get();
      source_ = "buffer";
    }
    (void)read_pass_gbs(data_, n_, threads_);
  }
  ~BandwidthProbe() {
    if (map_) munmap(map_, map_len_);
  }
  BandwidthProbe(const BandwidthProbe&) = delete;
  BandwidthProbe& operator=(const BandwidthProbe&) = delete;

  // The median of `passes` passes.
  double measure(int passes) {
    std::vector<double> gbs;
    for (int i = 0; i < passes; ++i) gbs.push_back(read_pass_gbs(data_, n_, threads_));
    std::sort(gbs.begin(), gbs.end());
    return gbs[gbs.size() / 2];
  }
  const std::string& source() const { return source_; }

 private:
  unsigned threads_;
  void* map_ = nullptr;
  size_t map_len_ = 0;
  std::unique_ptr<uint64_t[]> buf_;
  const uint64_t* data_ = nullptr;
  size_t n_ = 0;
  std::string source_;
};

int32_t argmax(const float* v, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (v[i] > v[best]) best = i;
  return static_cast<int32_t>(best);
}

struct Opts {
  std::string model;
  int threads = 0, n_prompt = 512, n_gen = 128, reps = 5, bw_mib = 1024, batch = 512, n_first = 8, depth = 0;
  uint64_t seed = 1;
  bool json = false;
};

int cmd_bench(const Opts& o) {
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  const unsigned threads = o.threads > 0 ? static_cast<unsigned>(o.threads) : hw;
  if (o.depth > o.n_prompt) {
    std::fprintf(stderr, "ondi bench: --depth %d is more than the %d prompt tokens it is taken from (-p)\n", o.depth,
                 o.n_prompt);
    return 2;
  }

  auto t_load = Clock::now();
  ModelHandle model(o.model);
  const double load_ms = ms_since(t_load);
  const ondi_model_info info = model_info(model.m);

  Common c;
  c.threads = static_cast<int>(threads);
  c.ctx = std::max({o.n_prompt, o.depth + o.n_gen + 1, o.n_first});
  c.batch = o.batch;
  // What a user waits for when the process starts: load, a fresh session, a short prompt, the first token. Taken
  // before anything else touches the weights, so the mapping's page faults are in it (the page cache is warm
  // after the first run on a machine, as for anyone who has used the model before).
  double first_token_ms = 0;
  {
    std::vector<int32_t> short_prompt(static_cast<size_t>(o.n_first), 0);
    std::vector<float> first_logits(static_cast<size_t>(info.n_vocab));
    SessionHandle first(model.m, c);
    check(ondi_session_eval(first.s, short_prompt.data(), short_prompt.size(), 1, first_logits.data()), "first prompt");
    (void)argmax(first_logits.data(), info.n_vocab);
    first_token_ms = ms_since(t_load);
  }
  SessionHandle session(model.m, c);

  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<int32_t> dist(0, static_cast<int32_t>(info.n_vocab - 1));
  std::vector<int32_t> prompt(static_cast<size_t>(o.n_prompt));
  for (auto& id : prompt) id = dist(rng);
  std::vector<float> logits(static_cast<size_t>(info.n_vocab));

  std::vector<double> pp_tps, tg_tps, ttft_ms, bw_gbs, pct;
  uint64_t rss = 0;
  std::unique_ptr<BandwidthProbe> probe;
  const double bytes = static_cast<double>(info.weight_bytes);
  // Repetition -1 is a warm-up: it faults the mapped weights in and sizes the caches.
  for (int r = -1; r < o.reps; ++r) {
    check(ondi_session_truncate(session.s, 0), "resetting the session");
    const auto t0 = Clock::now();
    check(ondi_session_eval(session.s, prompt.data(), prompt.size(), 1, logits.data()), "prefill");
    int32_t tok = argmax(logits.data(), info.n_vocab);
    const double prefill_ms = ms_since(t0);
    // Decode from `depth` cached tokens (0, as llama-bench's tg: the figures compare side by side), untimed.
    check(ondi_session_truncate(session.s, o.depth), "resetting the session");
    const auto t1 = Clock::now();
    for (int i = 0; i < o.n_gen; ++i) {
      check(ondi_session_eval(session.s, &tok, 1, 1, logits.data()), "decode");
      tok = argmax(logits.data(), info.n_vocab);
    }
    const double decode_ms = ms_since(t1);
    if (r < 0) {
      // The warm-up has touched everything a run touches: its peak is the run's (read before the bandwidth
      // probe maps the file a second time or allocates its buffer).
      rss = peak_rss_bytes();
      probe = std::make_unique<BandwidthProbe>(o.model, o.bw_mib, threads);
      continue;
    }
    ttft_ms.push_back(prefill_ms);
    pp_tps.push_back(1000.0 * o.n_prompt / prefill_ms);
    const double tps = 1000.0 * o.n_gen / decode_ms;
    tg_tps.push_back(tps);
    bw_gbs.push_back(probe->measure(3));
    if (bytes > 0) pct.push_back(100.0 * tps / (bw_gbs.back() * 1e9 / bytes));
  }
  const Stat pp = stat_of(pp_tps), tg = stat_of(tg_tps), ttft = stat_of(ttft_ms), bws = stat_of(bw_gbs);
  const std::string bw_source = probe->source();
  const double bw = bws.median;
  const double roofline_tps = bytes > 0 ? bw * 1e9 / bytes : 0;
  const double roofline_pct = pct.empty() ? 0 : stat_of(pct).median;
  const std::string cpu = proc_field("/proc/cpuinfo", "model name");
  const std::string pp_name = "pp" + std::to_string(o.n_prompt), tg_name = "tg" + std::to_string(o.n_gen);

  if (o.json) {
    auto st = [](const Stat& s) { return nlohmann::json{{"median", s.median}, {"min", s.min}, {"max", s.max}}; };
    nlohmann::json j = {{"model", o.model},
                        {"name", info.name ? info.name : ""},
                        {"n_params", info.n_params},
                        {"weight_bytes", info.weight_bytes},
                        {"threads", threads},
                        {"cpu", cpu},
                        {"kernel_isa", ondi_kernel_isa()},
                        {"repetitions", o.reps},
                        {"n_prompt", o.n_prompt},
                        {"n_gen", o.n_gen},
                        {"load_ms", load_ms},
                        {"first_token_ms", first_token_ms},
                        {"n_first", o.n_first},
                        {"prefill_tps", st(pp)},
                        {"decode_tps", st(tg)},
                        {"ttft_ms", st(ttft)},
                        {"peak_rss_bytes", rss},
                        {"depth", o.depth},
                        {"read_bandwidth_gbs", bw},
                        {"read_bandwidth", st(bws)},
                        {"bandwidth_source", bw_source},
                        {"roofline_tps", roofline_tps},
                        {"roofline_pct", roofline_pct}};
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("model      %s (%s, %.2f M params, %s of weights read per token)\n", o.model.c_str(),
              info.name && info.name[0] ? info.name : info.architecture, static_cast<double>(info.n_params) / 1e6,
              human_bytes(static_cast<double>(info.weight_bytes)).c_str());
  std::printf("cpu        %s, %u threads, kernels %s\n", cpu.empty() ? "unknown" : cpu.c_str(), threads,
              ondi_kernel_isa());
  std::printf("load       %.1f ms; first token %.1f ms after the load began (%d-token prompt, fresh process)\n",
              load_ms, first_token_ms, o.n_first);
  std::printf("%-10s %9.2f tok/s  (min %.2f, max %.2f; median of %d)\n", pp_name.c_str(), pp.median, pp.min, pp.max,
              o.reps);
  std::printf("%-10s %9.2f tok/s  (min %.2f, max %.2f; from %d cached tokens)\n", tg_name.c_str(), tg.median, tg.min,
              tg.max, o.depth);
  std::printf("ttft       %9.1f ms     (min %.1f, max %.1f; %d-token prompt)\n", ttft.median, ttft.min, ttft.max,
              o.n_prompt);
  std::printf("peak rss   %s\n", human_bytes(static_cast<double>(rss)).c_str());
  std::printf("bandwidth  %.1f GB/s read (%s; min %.1f, max %.1f) -> roofline %.2f tok/s; decode at %.0f%% of it\n", bw,
              bw_source.c_str(), bws.min, bws.max, roofline_tps, roofline_pct);
  std::printf("           (each decode run against the bandwidth measured right after it, median of the ratios)\n");
  return 0;
}

const RegisterCommand kRegister(70, [](CLI::App& app) -> Runner {
  auto o = std::make_shared<Opts>();
  auto* b = app.add_subcommand("bench", "Measure prefill/decode speed, time to first token, memory and bandwidth use");
  b->add_option("MODEL", o->model, "GGUF model file")->required();
  b->add_option("-p,--prompt-tokens", o->n_prompt, "Prompt tokens (random ids)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  b->add_option("-n,--gen-tokens", o->n_gen, "Tokens to generate")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  b->add_option("-d,--depth", o->depth, "Cached tokens before the timed decode (0: an empty context, as llama-bench)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 20));
  b->add_option("-r,--repetitions", o->reps, "Timed repetitions (after one warm-up)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  b->add_option("-t,--threads", o->threads, "Threads (0: one per hardware thread)")->check(CLI::Range(0, 1024));
  b->add_option("--batch", o->batch, "Prefill chunk size")->capture_default_str()->check(CLI::Range(1, 65536));
  b->add_option("--seed", o->seed, "Seed of the random prompt")->capture_default_str();
  b->add_option("--bw-mib", o->bw_mib, "MiB read by the bandwidth measurement when the model file is under 256 MiB")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  b->add_option("--first-tokens", o->n_first, "Prompt tokens of the first-token measurement")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  b->add_flag("--json", o->json, "Print one JSON object");
  return [b, o]() -> int {
    if (!b->parsed()) return -1;
    return cmd_bench(*o);
  };
});

}  // namespace
}  // namespace ondi_cli

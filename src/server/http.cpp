// The HTTP side of `ondi serve`: routes, authentication, limits, SSE streaming, metrics and graceful shutdown.
#include <dirent.h>
#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <mutex>
#include <thread>

#include "server/openai.h"
#include "server/scheduler.h"
#include "server/server.h"

namespace ondi::server {
namespace {

using Clock = std::chrono::steady_clock;

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(dump(error_body(e)), "application/json");
}

ApiError server_error(int status, const std::string& msg, const std::string& type, const std::string& code = "") {
  ApiError e;
  e.status = status;
  e.message = msg;
  e.type = type;
  e.code = code;
  return e;
}

std::string model_id_from_path(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  if (name.size() > 5 && name.compare(name.size() - 5, 5, ".gguf") == 0) name.resize(name.size() - 5);
  return name;
}

std::string sse(const json& j) { return "data: " + dump(j) + "\n\n"; }

// How often a handler waiting for its generation looks whether its client is still there.
constexpr auto kPeerCheck = std::chrono::milliseconds(200);

bool same_endpoint(const sockaddr_storage& a, socklen_t len, const std::string& ip, int port) {
  int p;
  if (a.ss_family == AF_INET)
    p = ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
  else if (a.ss_family == AF_INET6)
    p = ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
  else
    return false;
  if (p != port) return false;
  // Spelled as cpp-httplib spells Request::remote_addr and local_addr.
  char host[NI_MAXHOST];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&a), len, host, sizeof host, nullptr, 0, NI_NUMERICHOST) != 0)
    return false;
  return ip == host;
}

// The socket of the connection `req` came on, or -1. cpp-httplib 0.11 does not hand it to handlers, but a handler
// runs on the thread that serves its connection, which closes the socket only after the handler returns: the one
// socket of this process with the request's (local, remote) address pair stays this request's all along.
int connection_socket(const httplib::Request& req) {
  if (req.remote_port < 0 || req.local_port < 0) return -1;
  DIR* d = opendir("/proc/self/fd");
  if (!d) return -1;
  int found = -1;
  while (const dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    const int fd = std::atoi(e->d_name);
    if (fd == dirfd(d)) continue;
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0 ||
        !same_endpoint(a, len, req.remote_addr, req.remote_port))
      continue;
    len = sizeof a;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0 ||
        !same_endpoint(a, len, req.local_addr, req.local_port))
      continue;
    found = fd;
    break;
  }
  closedir(d);
  return found;
}

// True once the client has closed its end (or reset the connection). A client that only shuts down its sending
// side while it still reads counts as gone too, as nginx counts it; no OpenAI client does that.
bool peer_gone(int sock) {
  if (sock < 0) return false;
  pollfd p{sock, POLLIN | POLLRDHUP, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) return true;
  char c;
  return (p.revents & POLLIN) && recv(sock, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

class Server {
 public:
  Server(const ServerOptions& o, const ondi_model* model, ondi_context* ctx)
      : opt_(o), model_(model), sched_(model, ctx, o.max_queue) {
    id_ = o.model_id.empty() ? model_id_from_path(o.model_path) : o.model_id;
    n_ctx_ = sched_.n_ctx();
    limits_.n_ctx = n_ctx_;
    limits_.max_prompt_tokens = o.max_prompt_tokens > 0 ? std::min(o.max_prompt_tokens, n_ctx_ - 1) : n_ctx_ - 1;
    created_ = static_cast<int64_t>(std::time(nullptr));
  }

  void routes(httplib::Server& svr) {
    svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (opt_.api_key.empty() || req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
      if (req.get_header_value("Authorization") == "Bearer " + opt_.api_key)
        return httplib::Server::HandlerResponse::Unhandled;
      send_error(res, server_error(401, "missing or wrong API key: send 'Authorization: Bearer KEY'",
                                   "invalid_request_error", "invalid_api_key"));
      return httplib::Server::HandlerResponse::Handled;
    });
    svr.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 404) {
        send_error(
            res, server_error(404, "no route " + req.method + " " + req.path, "invalid_request_error", "unknown_url"));
      } else if (res.status == 413) {
        send_error(res, server_error(413, "the request body is too large", "invalid_request_error"));
      } else {
        send_error(res, server_error(res.status, "HTTP error " + std::to_string(res.status), "invalid_request_error"));
      }
    });
    svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
      send_error(res, server_error(500, "internal error", "server_error"));
    });
    svr.set_logger([this](const httplib::Request& req, const httplib::Response& res) { count(req.path, res.status); });

    svr.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      if (!sched_.accepting()) {
        res.status = 503;
        res.set_content(R"({"status":"shutting down"})", "application/json");
        return;
      }
      res.set_content(R"({"status":"ok"})", "application/json");
    });
    svr.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      json m = {{"id", id_}, {"object", "model"}, {"created", created_}, {"owned_by", "ondi"}};
      res.set_content(dump({{"object", "list"}, {"data", json::array({m})}}), "application/json");
    });
    svr.Get(R"(/v1/models/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      if (req.matches[1] != id_) {
        send_error(res, server_error(404, "the model '" + std::string(req.matches[1]) + "' does not exist",
                                     "invalid_request_error", "model_not_found"));
        return;
      }
      res.set_content(dump({{"id", id_}, {"object", "model"}, {"created", created_}, {"owned_by", "ondi"}}),
                      "application/json");
    });
    svr.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics(), "text/plain; version=0.0.4");
    });
    svr.Post("/v1/chat/completions",
             [this](const httplib::Request& req, httplib::Response& res) { generate(Api::chat, req, res); });
    svr.Post("/v1/completions",
             [this](const httplib::Request& req, httplib::Response& res) { generate(Api::completions, req, res); });
  }

  Scheduler& scheduler() { return sched_; }
  int64_t in_flight() const { return in_flight_.load(); }

 private:
  void count(const std::string& path, int status) {
    static const char* known[] = {"/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/metrics"};
    std::string ep = "other";
    for (const char* k : known)
      if (path == k) ep = k;
    if (path.rfind("/v1/models/", 0) == 0) ep = "/v1/models";
    std::lock_guard<std::mutex> lk(count_mu_);
    ++requests_[{ep, status}];
  }

  std::string metrics() {
    const SchedulerStats s = sched_.stats();
    std::string out;
    auto line = [&](const char* name, const char* type, const char* help, double v) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", v);
      out +=
          std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " + buf + "\n";
    };
    out += "# HELP ondi_requests_total HTTP requests answered, by endpoint and status\n";
    out += "# TYPE ondi_requests_total counter\n";
    {
      std::lock_guard<std::mutex> lk(count_mu_);
      for (const auto& [k, n] : requests_)
        out += "ondi_requests_total{endpoint=\"" + k.first + "\",status=\"" + std::to_string(k.second) + "\"} " +
               std::to_string(n) + "\n";
    }
    line("ondi_queue_depth", "gauge", "Requests waiting for a slot", static_cast<double>(s.queue_depth));
    line("ondi_requests_active", "gauge", "Requests holding a slot (prefilling or decoding)",
         static_cast<double>(s.active));
    line("ondi_slots", "gauge", "Sequences decoded together (--parallel)", static_cast<double>(s.n_slots));
    line("ondi_generated_tokens_total", "counter", "Tokens generated", static_cast<double>(s.generated_tokens_total));
    line("ondi_prompt_tokens_total", "counter", "Prompt tokens received", static_cast<double>(s.prompt_tokens_total));
    line("ondi_prompt_tokens_cached_total", "counter", "Prompt tokens reused from the KV cache",
         static_cast<double>(s.cached_prompt_tokens_total));
    line("ondi_decode_steps_total", "counter", "Batched forward passes", static_cast<double>(s.decode_steps_total));
    line("ondi_generated_tokens_per_second", "gauge", "Generated tokens per second over the last 10 s",
         s.tokens_per_second);
    line("ondi_kv_used_tokens", "gauge", "Positions held in the KV cache, all slots",
         static_cast<double>(s.kv_used_tokens));
    line("ondi_kv_capacity_tokens", "gauge", "Positions the KV cache can hold, all slots",
         static_cast<double>(s.kv_capacity_tokens));
    line("ondi_kv_cache_bytes", "gauge", "Bytes allocated for the KV cache", static_cast<double>(s.kv_bytes));
    return out;
  }

  std::string new_id(Api api) {
    static std::atomic<uint64_t> counter{0};
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s%llx%08llx", api == Api::chat ? "chatcmpl-" : "cmpl-",
                  static_cast<unsigned long long>(created_), static_cast<unsigned long long>(++counter));
    return buf;
  }

  void generate(Api api, const httplib::Request& req, httplib::Response& res) {
    ParsedRequest p;
    try {
      p = parse_request(api, req.body, model_, sched_.n_vocab(), limits_);
    } catch (const ApiError& e) {
      send_error(res, e);
      return;
    }
    auto r = p.gen;
    r->deadline = Clock::now() + std::chrono::seconds(opt_.timeout_s);
    switch (sched_.submit(r)) {
      case Scheduler::Submit::ok:
        break;
      case Scheduler::Submit::queue_full:
        res.set_header("Retry-After", "1");
        send_error(res, server_error(429, "the server is busy: too many requests are waiting; retry later",
                                     "rate_limit_error", "queue_full"));
        return;
      case Scheduler::Submit::shutting_down:
        send_error(res, server_error(503, "the server is shutting down", "server_error"));
        return;
    }
    ResponseMeta meta{api, new_id(api), id_, static_cast<int64_t>(std::time(nullptr)), r->logprobs};
    const int sock = connection_socket(req);
    if (p.stream) {
      stream(meta, r, p.include_usage, sock, res);
      return;
    }
    ++in_flight_;
    std::string text;
    std::vector<TokenLogprob> lps;
    Finish f;
    bool client_gone = false;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(r->mu);
        if (r->cv.wait_for(lk, kPeerCheck, [&] { return r->finish != Finish::none; })) {
          for (auto& ev : r->events) {
            text += ev.text;
            if (ev.has_logprob) lps.push_back(std::move(ev.logprob));
          }
          f = r->finish;
          break;
        }
      }
      // Nothing is written until the answer is complete, so only looking at the socket tells that nobody waits
      // for it any more; the scheduler then frees the slot instead of generating to max_tokens or the timeout.
      if (!client_gone && peer_gone(sock)) {
        client_gone = true;
        sched_.cancel(r);
      }
    }
    --in_flight_;
    if (client_gone) {
      // Nobody reads this; the status (nginx's "client closed request") is for the logger and /metrics.
      send_error(res, server_error(499, "the client closed the connection before the answer was ready",
                                   "invalid_request_error", "client_closed_request"));
    } else if (f == Finish::error) {
      send_error(res, server_error(500, "generation failed: " + r->error, "server_error"));
    } else if (f == Finish::timeout) {
      send_error(res, server_error(504, "the request took longer than " + std::to_string(opt_.timeout_s) + " s",
                                   "server_error", "timeout"));
    } else if (f == Finish::cancelled) {
      send_error(res, server_error(503, "the request was cancelled (the server is shutting down)", "server_error"));
    } else {
      res.set_content(dump(full_response(meta, text, lps, f, *r, sched_)), "application/json");
    }
  }

  void stream(const ResponseMeta& meta, const std::shared_ptr<GenRequest>& r, bool include_usage, int sock,
              httplib::Response& res) {
    struct State {
      bool sent_role = false;
      bool done = false;
      Clock::time_point last_write = Clock::now();
    };
    auto st = std::make_shared<State>();
    ++in_flight_;
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, meta, r, st, include_usage, sock](size_t, httplib::DataSink& sink) -> bool {
          if (st->done) return false;
          // A failed write finds most clients that went away, but nothing is written while the request waits in
          // the queue, and the first write after the client closed still succeeds.
          if (peer_gone(sock)) {
            sched_.cancel(r);
            return false;
          }
          std::deque<Event> evs;
          Finish f;
          {
            std::unique_lock<std::mutex> lk(r->mu);
            r->cv.wait_for(lk, std::chrono::milliseconds(500),
                           [&] { return !r->events.empty() || r->finish != Finish::none; });
            evs.swap(r->events);
            f = r->finish;
          }
          std::string out;
          if (meta.api == Api::chat && !st->sent_role) {
            static const std::string role = "assistant";
            out += sse(stream_chunk(meta, &role, "", {}, nullptr, sched_));
            st->sent_role = true;
          }
          for (auto& ev : evs) {
            std::vector<TokenLogprob> lps;
            if (ev.has_logprob) lps.push_back(std::move(ev.logprob));
            out += sse(stream_chunk(meta, nullptr, ev.text, lps, nullptr, sched_));
          }
          if (f != Finish::none) {
            if (f == Finish::stop || f == Finish::length) {
              out += sse(stream_chunk(meta, nullptr, "", {}, finish_reason(f), sched_));
              if (include_usage) out += sse(usage_chunk(meta, *r));
            } else {
              ApiError e = f == Finish::timeout ? server_error(504, "the request timed out", "server_error", "timeout")
                           : f == Finish::cancelled
                               ? server_error(503, "the request was cancelled", "server_error")
                               : server_error(500, "generation failed: " + r->error, "server_error");
              out += sse(error_body(e));
            }
            out += "data: [DONE]\n\n";
          }
          // A comment line now and then finds clients that went away while nothing else is written.
          if (out.empty() && Clock::now() - st->last_write > std::chrono::seconds(5)) out = ": keep-alive\n\n";
          if (!out.empty()) {
            if (!sink.write(out.data(), out.size())) {
              sched_.cancel(r);
              return false;
            }
            st->last_write = Clock::now();
          }
          if (f != Finish::none) {
            st->done = true;
            sink.done();
          }
          return true;
        },
        [this, r](bool) {
          // However the response ended (done, client gone, server stopping), the request is over.
          sched_.cancel(r);
          --in_flight_;
        });
  }

  ServerOptions opt_;
  const ondi_model* model_;
  Scheduler sched_;
  std::string id_;
  int32_t n_ctx_ = 0;
  ParseLimits limits_;
  int64_t created_ = 0;
  std::atomic<int64_t> in_flight_{0};
  std::mutex count_mu_;
  std::map<std::pair<std::string, int>, int64_t> requests_;
};

}  // namespace

int run_server(const ServerOptions& opt) {
  // Signals are taken by one watcher thread (sigtimedwait), so every thread started below must block them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  ondi_model* model = nullptr;
  if (ondi_model_load(opt.model_path.c_str(), nullptr, &model) != ONDI_OK) {
    std::fprintf(stderr, "ondi serve: %s\n", ondi_last_error());
    return 1;
  }
  ondi_model_info info{};
  info.struct_size = sizeof(info);
  if (ondi_model_get_info(model, &info) != ONDI_OK || !info.has_tokenizer) {
    std::fprintf(stderr, "ondi serve: %s: the model has no usable tokenizer\n", opt.model_path.c_str());
    ondi_model_free(model);
    return 1;
  }
  ondi_context_params cp = ondi_context_params_default();
  cp.n_ctx = opt.ctx;
  cp.n_seq = opt.parallel;
  cp.n_batch = std::max(opt.batch, opt.parallel);  // every active sequence's next token fits one step
  cp.n_threads = opt.threads;
  cp.n_outputs = opt.parallel;  // a step asks for at most one token's logits per sequence
  ondi_context* ctx = nullptr;
  if (ondi_context_create(model, &cp, &ctx) != ONDI_OK) {
    std::fprintf(stderr, "ondi serve: %s\n", ondi_last_error());
    ondi_model_free(model);
    return 1;
  }
  int rc = 0;
  {
    Server server(opt, model, ctx);
    httplib::Server svr;
    const int http_threads = opt.http_threads > 0 ? opt.http_threads : opt.parallel + opt.max_queue + 8;
    svr.new_task_queue = [http_threads] { return new httplib::ThreadPool(static_cast<size_t>(http_threads)); };
    svr.set_payload_max_length(opt.max_body_bytes);
    svr.set_read_timeout(opt.read_timeout_s, 0);
    svr.set_write_timeout(30, 0);
    server.routes(svr);
    int port = opt.port;
    bool bound;
    if (port == 0) {
      port = svr.bind_to_any_port(opt.host);
      bound = port > 0;
    } else {
      bound = svr.bind_to_port(opt.host, port);
    }
    if (!bound) {
      std::fprintf(stderr, "ondi serve: cannot listen on %s:%d\n", opt.host.c_str(), opt.port);
      rc = 1;
    } else {
      std::fprintf(stderr, "ondi serve: %s (%d slots x %d positions) listening on http://%s:%d\n",
                   opt.model_path.c_str(), opt.parallel, opt.ctx, opt.host.c_str(), port);
      std::fflush(stderr);
      std::atomic<bool> stopped{false};
      std::thread watcher([&] {
        timespec tick{0, 200 * 1000 * 1000};
        while (!stopped.load()) {
          const int sig = sigtimedwait(&sigs, nullptr, &tick);
          if (sig != SIGTERM && sig != SIGINT) continue;
          std::fprintf(stderr, "ondi serve: signal %d: finishing in-flight requests (up to %d s)\n", sig,
                       opt.shutdown_grace_s);
          server.scheduler().shutdown(std::chrono::seconds(opt.shutdown_grace_s));
          // Let the last responses reach their clients before the sockets close.
          for (int i = 0; i < 100 && server.in_flight() > 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          svr.stop();
          return;
        }
      });
      svr.listen_after_bind();
      stopped.store(true);
      watcher.join();
      server.scheduler().shutdown(std::chrono::milliseconds(0));
      std::fprintf(stderr, "ondi serve: stopped\n");
    }
  }
  ondi_context_free(ctx);
  ondi_model_free(model);
  return rc;
}

}  // namespace ondi::server

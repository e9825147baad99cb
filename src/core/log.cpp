#include "core/log.h"

#include <cstdio>
#include <mutex>

namespace ondi {
namespace {
std::mutex g_mu;
LogFn g_fn = nullptr;
void* g_user = nullptr;
LogLevel g_min = LogLevel::warn;
}  // namespace

void set_log_sink(LogFn fn, void* user, LogLevel min_level) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_fn = fn;
  g_user = user;
  g_min = min_level;
}

void log(LogLevel level, const std::string& message) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (level < g_min) return;
  if (g_fn) {
    g_fn(level, message.c_str(), g_user);
    return;
  }
  static const char* names[] = {"debug", "info", "warn", "error"};
  std::fprintf(stderr, "ondi %s: %s\n", names[static_cast<int>(level)], message.c_str());
}

}  // namespace ondi

// Process-wide log sink (replaceable through the C API).
#pragma once

#include <string>

namespace ondi {

enum class LogLevel : int { debug = 0, info = 1, warn = 2, error = 3 };
using LogFn = void (*)(LogLevel level, const char* message, void* user);

void set_log_sink(LogFn fn, void* user, LogLevel min_level);
void log(LogLevel level, const std::string& message);

}  // namespace ondi

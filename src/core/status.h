// Status and Result<T>: the error currency of the library. Nothing inside ondi throws across a module
// boundary; every fallible call returns one of these, and the C API turns them into codes + messages.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace ondi {

enum class Errc : int {
  ok = 0,
  invalid_argument = 1,  // caller passed something wrong
  io = 2,                // open/read/write/mmap failed
  format = 3,            // a file or input is malformed
  unsupported = 4,       // well-formed but not something we implement (type, architecture, version)
  out_of_memory = 5,
  out_of_range = 6,  // e.g. context full
  cancelled = 7,
  internal = 8,
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Errc code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return {}; }

  bool ok() const { return code_ == Errc::ok; }
  Errc code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Errc code_ = Errc::ok;
  std::string message_;
};

// Result<T>: a value or a non-ok Status.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {
    if (status_.ok()) status_ = Status(Errc::internal, "Result constructed from an ok Status without a value");
  }
  Result(Errc code, std::string message) : status_(code, std::move(message)) {}

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace ondi

#define ONDI_CONCAT_INNER(a, b) a##b
#define ONDI_CONCAT(a, b) ONDI_CONCAT_INNER(a, b)

// Propagates a non-ok Status from an expression that yields a Status.
#define ONDI_RETURN_IF_ERROR(expr)                       \
  do {                                                   \
    ::ondi::Status ondi_status_tmp_ = (expr);            \
    if (!ondi_status_tmp_.ok()) return ondi_status_tmp_; \
  } while (0)

// `ONDI_ASSIGN_OR_RETURN(auto x, f());` binds the value or returns the error.
#define ONDI_ASSIGN_OR_RETURN(lhs, expr) ONDI_ASSIGN_OR_RETURN_IMPL(ONDI_CONCAT(ondi_result_, __LINE__), lhs, expr)
#define ONDI_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()

// C API: the thread-local last error, status names, and tensor type names.
//
// The other C API files report failures through the ondi::capi helpers defined here (capi_internal.h).
#include <exception>
#include <new>
#include <string>

#include "capi/capi_internal.h"
#include "core/status.h"
#include "ondi/ondi.h"
#include "tensor/types.h"

namespace ondi::capi {
namespace {
// One message per thread, so that concurrent sessions on different threads do not see each other's errors.
thread_local std::string g_last_error;
}  // namespace

ondi_status fail(ondi_status code, const std::string& message) {
  try {
    g_last_error = message;
  } catch (...) {
    // Out of memory while storing the message: keep the code, drop the text.
    g_last_error.clear();
  }
  return code;
}

// Errc and ondi_status share most numbers but not all (BUFFER_TOO_SMALL has no Errc), so map explicitly.
ondi_status to_c_status(Errc code) {
  switch (code) {
    case Errc::ok:
      return ONDI_OK;
    case Errc::invalid_argument:
      return ONDI_ERR_INVALID_ARGUMENT;
    case Errc::io:
      return ONDI_ERR_IO;
    case Errc::format:
      return ONDI_ERR_FORMAT;
    case Errc::unsupported:
      return ONDI_ERR_UNSUPPORTED;
    case Errc::out_of_memory:
      return ONDI_ERR_OUT_OF_MEMORY;
    case Errc::out_of_range:
      return ONDI_ERR_OUT_OF_RANGE;
    case Errc::cancelled:
      return ONDI_ERR_CANCELLED;
    case Errc::internal:
      return ONDI_ERR_INTERNAL;
  }
  return ONDI_ERR_INTERNAL;
}

ondi_status from_status(const Status& s) {
  if (s.ok()) return ONDI_OK;
  return fail(to_c_status(s.code()), s.message());
}

// For the catch blocks that keep exceptions from crossing the C boundary.
ondi_status from_current_exception(const char* where) {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return fail(ONDI_ERR_OUT_OF_MEMORY, std::string(where) + ": out of memory");
  } catch (const std::exception& e) {
    return fail(ONDI_ERR_INTERNAL, std::string(where) + ": " + e.what());
  } catch (...) {
    return fail(ONDI_ERR_INTERNAL, std::string(where) + ": unknown exception");
  }
}

}  // namespace ondi::capi

extern "C" {

ONDI_API const char* ondi_last_error(void) { return ondi::capi::g_last_error.c_str(); }

ONDI_API const char* ondi_status_name(ondi_status s) {
  switch (s) {
    case ONDI_OK:
      return "OK";
    case ONDI_ERR_INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case ONDI_ERR_IO:
      return "IO";
    case ONDI_ERR_FORMAT:
      return "FORMAT";
    case ONDI_ERR_UNSUPPORTED:
      return "UNSUPPORTED";
    case ONDI_ERR_OUT_OF_MEMORY:
      return "OUT_OF_MEMORY";
    case ONDI_ERR_OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case ONDI_ERR_CANCELLED:
      return "CANCELLED";
    case ONDI_ERR_BUFFER_TOO_SMALL:
      return "BUFFER_TOO_SMALL";
    case ONDI_ERR_INTERNAL:
      return "INTERNAL";
  }
  return "UNKNOWN";
}

ONDI_API const char* ondi_type_name(int type) {
  if (type < 0) return nullptr;
  const ondi::TypeInfo* info = ondi::type_info(static_cast<uint32_t>(type));
  // The names are string literals in the type table, so data() is NUL-terminated and lives forever.
  return info ? info->name.data() : nullptr;
}

ONDI_API int ondi_type_from_name(const char* name) {
  if (name == nullptr) return -1;
  try {
    auto t = ondi::type_from_name(name);
    return t ? static_cast<int>(*t) : -1;
  } catch (...) {
    return -1;
  }
}

}  // extern "C"

// Shared by the C API's translation units: error reporting into the thread-local last error.
#pragma once

#include <string>

#include "core/status.h"
#include "ondi/ondi.h"

namespace ondi::capi {

ondi_status fail(ondi_status code, const std::string& message);
ondi_status from_status(const Status& s);
// Call only inside a catch block: maps the in-flight exception to a status and message.
ondi_status from_current_exception(const char* where);

}  // namespace ondi::capi

# The version has one source: the ONDI_VERSION_* and ONDI_ABI_VERSION macros of include/ondi/ondi.h. Included
# before project() so that project(VERSION), the SONAME (libondi.so.<ONDI_ABI_VERSION>), the package config
# files and ondi_version() all agree with what a caller compiles against.
file(STRINGS "${CMAKE_CURRENT_LIST_DIR}/../include/ondi/ondi.h" _ondi_version_lines
     REGEX "^#define ONDI_(VERSION_MAJOR|VERSION_MINOR|VERSION_PATCH|ABI_VERSION) +[0-9]+")
foreach(_line IN LISTS _ondi_version_lines)
  string(REGEX MATCH "^#define ONDI_([A-Z_]+) +([0-9]+)" _ "${_line}")
  set(ONDI_${CMAKE_MATCH_1} "${CMAKE_MATCH_2}")
endforeach()
foreach(_var ONDI_VERSION_MAJOR ONDI_VERSION_MINOR ONDI_VERSION_PATCH ONDI_ABI_VERSION)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "include/ondi/ondi.h: no '#define ${_var} <number>' line")
  endif()
endforeach()
set(ONDI_VERSION "${ONDI_VERSION_MAJOR}.${ONDI_VERSION_MINOR}.${ONDI_VERSION_PATCH}")

# Packaging of the C API library: the exported symbol list, the static variant, install rules, the CMake
# package (find_package(ondi)) and pkg-config's ondi.pc. Included from the top-level CMakeLists.txt after the
# `ondi` target is defined.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Only ondi_* leaves libondi.so. The module libraries are compiled with default visibility (their unit tests
# link them directly), so -fvisibility alone would still export the whole core from the shared library.
if(CMAKE_SYSTEM_NAME STREQUAL "Linux" OR CMAKE_SYSTEM_NAME STREQUAL "Android")
  target_link_options(ondi PRIVATE "LINKER:--version-script=${CMAKE_CURRENT_LIST_DIR}/ondi.map")
  set_property(TARGET ondi APPEND PROPERTY LINK_DEPENDS "${CMAKE_CURRENT_LIST_DIR}/ondi.map")
endif()

# The external libraries the modules link, for the static library's users (who must link them themselves):
# pkg-config modules become plain -l names so that neither the CMake package nor ondi.pc needs the .pc files
# of the dependencies on the integrator's machine (often a device SDK's sysroot without them).
set(_ondi_ext_libs "")     # what an installed libondi.a needs: -l names and Threads::Threads
set(_ondi_ext_targets "")  # the same as the build tree knows them (imported targets)
set(_ondi_seen "")
function(_ondi_walk tgt)
  if(tgt IN_LIST _ondi_seen)
    return()
  endif()
  list(APPEND _ondi_seen ${tgt})
  set(_ondi_seen ${_ondi_seen} PARENT_SCOPE)
  get_target_property(_links ${tgt} INTERFACE_LINK_LIBRARIES)
  foreach(_l IN LISTS _links)
    if(_l MATCHES "^ondi_")
      _ondi_walk(${_l})
      set(_ondi_seen ${_ondi_seen} PARENT_SCOPE)
    elseif(_l MATCHES "^PkgConfig::(.+)$")
      list(APPEND _ondi_ext_libs ${${CMAKE_MATCH_1}_LIBRARIES})
      list(APPEND _ondi_ext_targets ${_l})
    elseif(_l STREQUAL "Threads::Threads")
      list(APPEND _ondi_ext_libs ${_l})
      list(APPEND _ondi_ext_targets ${_l})
    elseif(TARGET ${_l})
      # Other imported targets: header-only ones (nlohmann_json) are needed only to compile ondi itself; a
      # library becomes its -l name.
      get_target_property(_type ${_l} TYPE)
      if(NOT _type STREQUAL "INTERFACE_LIBRARY")
        get_target_property(_loc ${_l} LOCATION)
        get_filename_component(_name "${_loc}" NAME_WE)
        string(REGEX REPLACE "^lib" "" _name "${_name}")
        list(APPEND _ondi_ext_libs ${_name})
        list(APPEND _ondi_ext_targets ${_l})
      endif()
    elseif(_l AND NOT _l MATCHES "^\\$<")
      list(APPEND _ondi_ext_libs ${_l})
      list(APPEND _ondi_ext_targets ${_l})
    endif()
  endforeach()
  set(_ondi_ext_libs ${_ondi_ext_libs} PARENT_SCOPE)
  set(_ondi_ext_targets ${_ondi_ext_targets} PARENT_SCOPE)
endfunction()
_ondi_walk(ondi_all)
list(REMOVE_DUPLICATES _ondi_ext_libs)
list(REMOVE_DUPLICATES _ondi_ext_targets)
set(ONDI_STATIC_EXTRA_LIBS "")  # for ondi.pc's Libs.private
foreach(_l IN LISTS _ondi_ext_libs)
  if(_l STREQUAL "Threads::Threads")
    list(APPEND ONDI_STATIC_EXTRA_LIBS "-pthread")
  else()
    list(APPEND ONDI_STATIC_EXTRA_LIBS "-l${_l}")
  endif()
endforeach()
# The objects are C++: a C program linking libondi.a statically also needs the C++ runtime.
list(APPEND ONDI_STATIC_EXTRA_LIBS -lstdc++ -lm)
list(JOIN ONDI_STATIC_EXTRA_LIBS " " ONDI_PC_LIBS_PRIVATE)

# libondi.a: the same objects as libondi.so (the C API's and every module's), so both variants are one build.
set(_ondi_objects $<TARGET_OBJECTS:ondi>)
foreach(mod ${ONDI_MODULES})
  list(APPEND _ondi_objects $<TARGET_OBJECTS:ondi_${mod}>)
endforeach()
add_library(ondi_static STATIC ${_ondi_objects})
set_target_properties(ondi_static PROPERTIES OUTPUT_NAME ondi LINKER_LANGUAGE CXX EXPORT_NAME ondi_static)
target_include_directories(ondi_static INTERFACE $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/include>
                                                 $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
foreach(_l IN LISTS _ondi_ext_targets)
  target_link_libraries(ondi_static INTERFACE $<BUILD_INTERFACE:${_l}>)
endforeach()
foreach(_l IN LISTS _ondi_ext_libs)
  target_link_libraries(ondi_static INTERFACE $<INSTALL_INTERFACE:${_l}>)
endforeach()
target_link_libraries(ondi_static INTERFACE $<INSTALL_INTERFACE:stdc++> $<INSTALL_INTERFACE:m>)

set_target_properties(ondi PROPERTIES EXPORT_NAME ondi)
# The installed CLI finds the installed library wherever the prefix is moved.
set_target_properties(ondi_cli PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")

install(TARGETS ondi ondi_static EXPORT ondiTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS ondi_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
# The public headers only: include/ondi/ is the whole interface (src/ never leaves the build).
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/ondi DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
        FILES_MATCHING PATTERN "*.h")

set(ONDI_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ondi)
install(EXPORT ondiTargets NAMESPACE ondi:: DESTINATION ${ONDI_CMAKE_DIR} COMPONENT dev)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/ondiConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/ondiConfig.cmake INSTALL_DESTINATION ${ONDI_CMAKE_DIR})
# 0.x: the C ABI's compatibility is ONDI_ABI_VERSION (the SONAME), checked by scripts/test.d/40-package.sh.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/ondiConfigVersion.cmake VERSION ${PROJECT_VERSION}
                                 COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/ondiConfig.cmake ${CMAKE_BINARY_DIR}/ondiConfigVersion.cmake
        DESTINATION ${ONDI_CMAKE_DIR} COMPONENT dev)

# ondi.pc locates its prefix from its own directory, so `cmake --install --prefix ANY` gives a working file.
file(RELATIVE_PATH ONDI_PC_TO_PREFIX "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
configure_file(${CMAKE_CURRENT_LIST_DIR}/ondi.pc.in ${CMAKE_BINARY_DIR}/ondi.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/ondi.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# ABI probe for scripts/test.d/40-package.sh: the C API's objects again with debug info (-g -Og, which
# abi-dumper reads), over the same module libraries and symbol map. Not built by default, never installed;
# its exported interface is the shipped library's (same sources, headers and map).
add_library(ondi_abi_probe SHARED EXCLUDE_FROM_ALL ${ONDI_CAPI_SOURCES})
target_include_directories(ondi_abi_probe PRIVATE ${CMAKE_SOURCE_DIR}/include)
target_compile_options(ondi_abi_probe PRIVATE ${ONDI_WARNINGS} -g -Og)
target_compile_definitions(ondi_abi_probe PRIVATE ONDI_BUILDING_LIBRARY)
target_link_libraries(ondi_abi_probe PRIVATE ondi_all)
get_target_property(_ondi_link_options ondi LINK_OPTIONS)
if(_ondi_link_options)
  target_link_options(ondi_abi_probe PRIVATE ${_ondi_link_options})
endif()
set_target_properties(ondi_abi_probe PROPERTIES OUTPUT_NAME ondi-abi-probe CXX_VISIBILITY_PRESET hidden
                                                VISIBILITY_INLINES_HIDDEN ON
                                                LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/abi)

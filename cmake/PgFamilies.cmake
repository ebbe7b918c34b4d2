# SPDX-License-Identifier: Apache-2.0
# The component families a build may leave out (docs/build.md, "Leaving families out"): one
# option PG_FAMILY_<NAME> each, ON by default. An appliance that does not want YARA, the
# vulnerability scanner or the container checks configures them OFF and gets a smaller binary
# that does not load their libraries (libyara, libarchive and theirs). The sink family (console,
# jsonl, syslog, http) and the shared host and storage code are always built.
set(PG_OPTIONAL_FAMILIES process network rootkit realtime fim yara vuln container)
set(PG_FAMILIES_LEFT_OUT "")
foreach(_family ${PG_OPTIONAL_FAMILIES})
  string(TOUPPER ${_family} _upper)
  option(PG_FAMILY_${_upper} "build the ${_family} family of components" ON)
  if(NOT PG_FAMILY_${_upper})
    list(APPEND PG_FAMILIES_LEFT_OUT ${_family})
  endif()
endforeach()

# What a family needs of another.
if(PG_FAMILY_ROOTKIT AND NOT PG_FAMILY_PROCESS)
  message(FATAL_ERROR "PG_FAMILY_ROOTKIT=ON needs PG_FAMILY_PROCESS=ON (rootkit checks read the "
                      "process family's /proc snapshot); turn both off or both on")
endif()
if(PG_FAMILY_CONTAINER AND NOT PG_FAMILY_VULN)
  message(FATAL_ERROR "PG_FAMILY_CONTAINER=ON needs PG_FAMILY_VULN=ON (image packages are "
                      "matched by the vuln family); turn container off too, or vuln on")
endif()

if(PG_FAMILIES_LEFT_OUT)
  string(REPLACE ";" ", " _left "${PG_FAMILIES_LEFT_OUT}")
  message(STATUS "families left out: ${_left}")
  # The suite, the fuzz targets and the benchmarks exercise every family and the default config,
  # which enables them all: a reduced build is checked by `phantomguard validate` and its own
  # scan (docs/build.md), not by the suite.
  if(PG_FUZZ)
    message(FATAL_ERROR "PG_FUZZ needs every family (the fuzz targets cover them all)")
  endif()
  if(PG_BUILD_TESTS)
    message(STATUS "tests and benchmarks: off (they need every family)")
    set(PG_BUILD_TESTS OFF CACHE BOOL "Build the test suite" FORCE)
  endif()
endif()

# Language level, warnings, sanitizers and link-time optimisation (release builds only).
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()

# LTO makes the (serial) link of the plugin about a minute slower: release builds only, and
# switchable so test builds can skip it.
option(LMDM_LTO "Link-time optimisation for Release builds" ON)
if(LMDM_LTO AND CMAKE_BUILD_TYPE STREQUAL "Release")
  include(CheckIPOSupported)
  check_ipo_supported(RESULT LMDM_IPO_SUPPORTED OUTPUT LMDM_IPO_MESSAGE)
endif()

function(lmdm_set_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion)
  endif()
endfunction()

function(lmdm_enable_lto target)
  if(LMDM_IPO_SUPPORTED)
    set_property(TARGET ${target} PROPERTY INTERPROCEDURAL_OPTIMIZATION TRUE)
  endif()
endfunction()

if(LMDM_SANITIZER)
  add_compile_options(-fsanitize=${LMDM_SANITIZER} -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=${LMDM_SANITIZER})
  if(LMDM_SANITIZER MATCHES "undefined")  # a report fails the test that caused it, as ASan's and TSan's do
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
endif()
if(LMDM_BUILD_FUZZERS)  # coverage feedback for libFuzzer in everything the fuzz targets link
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

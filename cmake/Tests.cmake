# C++ tests (GoogleTest, discovered into ctest), and the build facts the Python host tests need.
find_package(GTest REQUIRED)
include(GoogleTest)

function(lmdm_add_test name)
  add_executable(${name} tests/cpp/${name}.cpp)
  target_link_libraries(${name} PRIVATE lmdm_engine GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    LMDM_ORT_LIBRARY="${LMDM_ORT_LIBRARY}"
    LMDM_NOT_ORT_LIBRARY="libm.so.6"
    LMDM_FIXTURES_DIR="${CMAKE_SOURCE_DIR}/tests/fixtures")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
endfunction()

lmdm_add_test(test_SpscRingBuffer)
lmdm_add_test(test_InputHistory)
lmdm_add_test(test_KvRing)
lmdm_add_test(test_Engine)
lmdm_add_test(test_StateCodec)
lmdm_add_test(test_OrtRuntime)
lmdm_add_test(test_GaussianNoise)
lmdm_add_test(test_StepBudget)
lmdm_add_test(test_BlockResampler)
lmdm_add_test(test_ProcessGate)
lmdm_add_test(test_BufferSizeWatch)
# Replacing malloc needs glibc's __libc_* entry points and clashes with sanitizer runtimes; glibc's
# heap is what test_FreedMemory measures, and a sanitizer runtime replaces it.
if(CMAKE_SYSTEM_NAME STREQUAL "Linux" AND NOT LMDM_SANITIZER)
  lmdm_add_test(test_EngineAllocations)
  lmdm_add_test(test_FreedMemory)
endif()

if(LMDM_BUILD_PLUGIN AND NOT APPLE AND NOT WIN32)
  pkg_check_modules(LILV REQUIRED IMPORTED_TARGET lilv-0)
  add_executable(lv2_host tests/plugin/lv2_host.c)
  target_link_libraries(lv2_host PRIVATE PkgConfig::LILV)
endif()

# Where the built artefacts are, for pytest (tests/conftest.py reads this file).
set(_artefacts "${CMAKE_BINARY_DIR}/LMDMPlugin_artefacts/${CMAKE_BUILD_TYPE}")
file(GENERATE OUTPUT "${CMAKE_BINARY_DIR}/lmdm_build.json" CONTENT "{
  \"build_type\": \"${CMAKE_BUILD_TYPE}\",
  \"lmdm_host\": \"$<TARGET_FILE:lmdm_host>\",
  \"vst3\": \"${_artefacts}/VST3/LMDM.vst3\",
  \"lv2\": \"${_artefacts}/LV2/LMDM.lv2\",
  \"lv2_uri\": \"${LMDM_LV2_URI}\",
  \"lv2_host\": \"$<$<TARGET_EXISTS:lv2_host>:$<TARGET_FILE_NAME:lv2_host>>\",
  \"binary_dir\": \"${CMAKE_BINARY_DIR}\"
}
")

# The shipped model package (the plugin's default): its own tests, and the allocation test runs the
# engine with the model too. Always built; without models/lmdm-live they skip (tests/cpp/ShippedPackage.h).
lmdm_add_test(test_ShippedPackage)
lmdm_add_test(test_ModelInEngine)
lmdm_add_test(test_PackageParsers)
target_link_libraries(test_PackageParsers PRIVATE nlohmann_json::nlohmann_json)
foreach(_test test_ShippedPackage test_ModelInEngine test_EngineAllocations test_PackageParsers)
  if(TARGET ${_test})
    target_compile_definitions(${_test} PRIVATE LMDM_SHIPPED_PACKAGE="${CMAKE_SOURCE_DIR}/models/lmdm-live")
  endif()
endforeach()

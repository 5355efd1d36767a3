# libFuzzer targets for every parser of outside data (tests/fuzz, docs/reliability.md): the saved
# state, the manifest, a whole package, the prompt bank, the fixtures' safetensors, lmdm_host's audio
# reader. Clang only; configure with LMDM_SANITIZER=address,undefined (make fuzz does).
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "LMDM_BUILD_FUZZERS needs clang: CC=clang-14 CXX=clang++-14 (Debian's clang-14, libclang-rt-14-dev)")
endif()

function(lmdm_add_fuzzer name)
  add_executable(${name} tests/fuzz/${name}.cpp ${ARGN})
  target_include_directories(${name} PRIVATE tests/fuzz plugin/tools)
  target_link_libraries(${name} PRIVATE lmdm_engine)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
endfunction()

lmdm_add_fuzzer(fuzz_state)
lmdm_add_fuzzer(fuzz_manifest)
lmdm_add_fuzzer(fuzz_prompts)
lmdm_add_fuzzer(fuzz_safetensors)
lmdm_add_fuzzer(fuzz_package)
target_link_libraries(fuzz_package PRIVATE nlohmann_json::nlohmann_json)
target_compile_definitions(fuzz_package PRIVATE LMDM_ORT_LIBRARY="${LMDM_ORT_LIBRARY}")
lmdm_add_fuzzer(fuzz_package_load)
target_link_libraries(fuzz_package_load PRIVATE nlohmann_json::nlohmann_json)
lmdm_add_fuzzer(fuzz_audio plugin/tools/AudioFile.cpp)
target_link_libraries(fuzz_audio PRIVATE PkgConfig::SNDFILE)

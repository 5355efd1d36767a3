# The JUCE-free real-time engine, shared by the plugin, the tools, the bindings and the tests.
find_package(Threads REQUIRED)
add_library(lmdm_engine STATIC
  plugin/engine/src/BlockResampler.cpp
  plugin/engine/src/BufferSizeWatch.cpp
  plugin/engine/src/Engine.cpp
  plugin/engine/src/FreedMemory.cpp
  plugin/engine/src/GaussianNoise.cpp
  plugin/engine/src/InputHistory.cpp
  plugin/engine/src/KvRing.cpp
  plugin/engine/src/LmdmModel.cpp
  plugin/engine/src/LmdmProcessor.cpp
  plugin/engine/src/ModelPackage.cpp
  plugin/engine/src/OnnxGraph.cpp
  plugin/engine/src/OrtRuntime.cpp
  plugin/engine/src/PackageFixtures.cpp
  plugin/engine/src/StateCodec.cpp
  plugin/engine/src/StepBudget.cpp
  plugin/engine/src/WorkerSignal.cpp)
target_include_directories(lmdm_engine PUBLIC plugin/engine/include)
find_package(nlohmann_json 3 REQUIRED)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
find_package(PkgConfig REQUIRED)
pkg_check_modules(SAMPLERATE REQUIRED IMPORTED_TARGET samplerate)
target_link_libraries(lmdm_engine PUBLIC Threads::Threads lmdm_onnxruntime_headers
  PRIVATE nlohmann_json::nlohmann_json OpenSSL::Crypto PkgConfig::SAMPLERATE)
lmdm_set_warnings(lmdm_engine)

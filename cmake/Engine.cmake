# The JUCE-free real-time engine, shared by the plugin, the tools, the bindings and the tests.
find_package(Threads REQUIRED)
add_library(lmdm_engine STATIC
  plugin/engine/src/Engine.cpp
  plugin/engine/src/InputHistory.cpp
  plugin/engine/src/OrtRuntime.cpp
  plugin/engine/src/StateCodec.cpp
  plugin/engine/src/WorkerSignal.cpp)
target_include_directories(lmdm_engine PUBLIC plugin/engine/include)
target_link_libraries(lmdm_engine PUBLIC Threads::Threads lmdm_onnxruntime_headers)
lmdm_set_warnings(lmdm_engine)

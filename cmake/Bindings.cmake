# pybind11 module `lmdm._engine`, written into python/lmdm/ so the editable package imports it.
find_package(Python 3.10 REQUIRED COMPONENTS Interpreter Development.Module)
if(NOT pybind11_DIR)
  execute_process(COMMAND "${Python_EXECUTABLE}" -m pybind11 --cmakedir
    OUTPUT_VARIABLE pybind11_DIR OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()
find_package(pybind11 CONFIG REQUIRED)
pybind11_add_module(lmdm_engine_python MODULE plugin/bindings/module.cpp)
set_target_properties(lmdm_engine_python PROPERTIES
  OUTPUT_NAME _engine
  LIBRARY_OUTPUT_DIRECTORY "${CMAKE_SOURCE_DIR}/python/lmdm")
target_link_libraries(lmdm_engine_python PRIVATE lmdm_engine)
lmdm_bundle_onnxruntime(lmdm_engine_python)  # OrtRuntime::bundledLibraryPath(): beside the module

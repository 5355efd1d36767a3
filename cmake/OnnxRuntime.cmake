# ONNX Runtime: headers only at build time; the library is dlopen'ed at run time (see
# plugin/engine/include/lmdm/OrtRuntime.h) from a copy placed beside each binary that needs it.
#   LMDM_ORT_INCLUDE_DIR  C/C++ API headers (scripts/fetch_ort_headers.sh unpacks Debian's)
#   LMDM_ORT_LIBRARY      the shared library to ship (default: the pinned onnxruntime wheel's)
#   LMDM_ORT_PROVIDER_LIBRARIES  execution-provider libraries shipped beside it, under their own names
#                         (the GPU build, `make release-gpu`: onnxruntime-gpu's providers_shared and _cuda)
set(LMDM_ORT_INCLUDE_DIR "${CMAKE_SOURCE_DIR}/third_party/onnxruntime/include" CACHE PATH "ONNX Runtime headers")
if(NOT EXISTS "${LMDM_ORT_INCLUDE_DIR}/onnxruntime_cxx_api.h")
  message(FATAL_ERROR "ONNX Runtime headers not found in ${LMDM_ORT_INCLUDE_DIR}: run scripts/setup.sh")
endif()

find_package(Python 3.10 REQUIRED COMPONENTS Interpreter)
if(NOT LMDM_ORT_LIBRARY)
  execute_process(
    COMMAND "${Python_EXECUTABLE}" -c
      "import glob, os, onnxruntime; d = os.path.join(os.path.dirname(onnxruntime.__file__), 'capi'); print(sorted(glob.glob(os.path.join(d, 'libonnxruntime.so.1.*')) + glob.glob(os.path.join(d, 'libonnxruntime*.dylib')) + glob.glob(os.path.join(d, 'onnxruntime.dll')))[0])"
    OUTPUT_VARIABLE _ort_library OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _ort_status)
  if(NOT _ort_status EQUAL 0 OR NOT EXISTS "${_ort_library}")
    message(FATAL_ERROR "No ONNX Runtime library found through ${Python_EXECUTABLE} (pip install onnxruntime, or set LMDM_ORT_LIBRARY)")
  endif()
  set(LMDM_ORT_LIBRARY "${_ort_library}" CACHE FILEPATH "ONNX Runtime shared library to ship")
endif()
message(STATUS "LMDM: ONNX Runtime library ${LMDM_ORT_LIBRARY}")
set(LMDM_ORT_PROVIDER_LIBRARIES "" CACHE STRING "Execution-provider libraries to ship beside ONNX Runtime (;-list)")
foreach(_provider IN LISTS LMDM_ORT_PROVIDER_LIBRARIES)
  if(NOT EXISTS "${_provider}")
    message(FATAL_ERROR "LMDM_ORT_PROVIDER_LIBRARIES: ${_provider} not found (scripts/gpu_runtime.sh unpacks them)")
  endif()
  message(STATUS "LMDM: shipping ${_provider}")
endforeach()

if(WIN32)
  set(LMDM_ORT_BUNDLED_NAME "onnxruntime.dll")
elseif(APPLE)
  set(LMDM_ORT_BUNDLED_NAME "libonnxruntime.dylib")
else()
  set(LMDM_ORT_BUNDLED_NAME "libonnxruntime.so.1")
endif()

add_library(lmdm_onnxruntime_headers INTERFACE)
target_include_directories(lmdm_onnxruntime_headers SYSTEM INTERFACE "${LMDM_ORT_INCLUDE_DIR}")
target_compile_definitions(lmdm_onnxruntime_headers INTERFACE ORT_API_MANUAL_INIT)
target_link_libraries(lmdm_onnxruntime_headers INTERFACE ${CMAKE_DL_LIBS})

# Copies ONNX Runtime next to `target`'s output (or into `destination`) after each build, under
# the name OrtRuntime::bundledLibraryPath() looks for.
function(lmdm_bundle_onnxruntime target)
  set(destination "$<TARGET_FILE_DIR:${target}>")
  if(ARGC GREATER 1)
    set(destination "${ARGV1}")
  endif()
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -E make_directory "${destination}"
    COMMAND ${CMAKE_COMMAND} -E copy_if_different "${LMDM_ORT_LIBRARY}" "${destination}/${LMDM_ORT_BUNDLED_NAME}"
    VERBATIM)
  # ONNX Runtime looks for its provider libraries in its own folder.
  foreach(provider IN LISTS LMDM_ORT_PROVIDER_LIBRARIES)
    get_filename_component(name "${provider}" NAME)
    add_custom_command(TARGET ${target} POST_BUILD
      COMMAND ${CMAKE_COMMAND} -E copy_if_different "${provider}" "${destination}/${name}" VERBATIM)
  endforeach()
endfunction()

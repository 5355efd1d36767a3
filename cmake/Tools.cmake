# Headless command-line host: renders files through the engine and measures its timing.
find_package(PkgConfig REQUIRED)
pkg_check_modules(SNDFILE REQUIRED IMPORTED_TARGET sndfile)
add_executable(lmdm_host
  plugin/tools/lmdm_host.cpp
  plugin/tools/AudioFile.cpp
  plugin/tools/LatencyReport.cpp
  plugin/tools/RealtimePriority.cpp
  plugin/tools/Soak.cpp)
target_link_libraries(lmdm_host PRIVATE lmdm_engine PkgConfig::SNDFILE)
lmdm_set_warnings(lmdm_host)
lmdm_bundle_onnxruntime(lmdm_host)  # for --model

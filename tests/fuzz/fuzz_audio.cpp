// Fuzz target: lmdm_host's audio-file reader (libsndfile behind lmdm::tools::readAudio) on any bytes
// in a file. Refused with an exception naming the file, or planar channels of equal length.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string_view>

#include "AudioFile.h"
#include "FuzzCheck.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path path = [] {
    auto made = std::filesystem::temp_directory_path() / ("lmdm-audio-" + std::to_string(::getpid()) + ".wav");
    std::atexit([] { std::error_code ignored; std::filesystem::remove(path, ignored); });
    return made;
  }();
  lmdm::fuzz::writeFile(path, std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    const auto audio = lmdm::tools::readAudio(path.string());
    LMDM_FUZZ_CHECK(audio.sampleRate > 0.0 && !audio.channels.empty());
    for (const auto& channel : audio.channels) LMDM_FUZZ_CHECK(channel.size() == audio.channels[0].size());
  } catch (const std::runtime_error&) {
  }
  return 0;
}

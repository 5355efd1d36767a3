// Reading and writing audio files (WAV, FLAC, OGG, ... whatever libsndfile supports), planar float.
#pragma once

#include <string>
#include <vector>

namespace lmdm::tools {

struct AudioData {
  double sampleRate = 0.0;
  std::vector<std::vector<float>> channels;  // planar
  int frames() const { return channels.empty() ? 0 : static_cast<int>(channels[0].size()); }
};

/** Allocates, does I/O; throws std::runtime_error naming the file on failure. */
AudioData readAudio(const std::string& path);

/** Allocates, does I/O; writes 32-bit float WAV (or the format the extension names); throws on failure. */
void writeAudio(const std::string& path, const AudioData& audio);

}  // namespace lmdm::tools

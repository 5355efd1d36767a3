#include "AudioFile.h"

#include <sndfile.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace lmdm::tools {
namespace {

struct SndfileCloser {
  void operator()(SNDFILE* file) const { sf_close(file); }
};
using SndfilePtr = std::unique_ptr<SNDFILE, SndfileCloser>;
constexpr int kMaxChannels = 256;  // more is a damaged header, not a recording

int formatFor(const std::string& path) {
  const auto dot = path.find_last_of('.');
  const std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
  if (ext == "flac") return SF_FORMAT_FLAC | SF_FORMAT_PCM_24;
  return SF_FORMAT_WAV | SF_FORMAT_FLOAT;
}

}  // namespace

AudioData readAudio(const std::string& path) {
  SF_INFO info{};
  SndfilePtr file(sf_open(path.c_str(), SFM_READ, &info));
  if (!file) throw std::runtime_error("cannot read audio file '" + path + "': " + sf_strerror(nullptr));
  if (info.channels < 1 || info.channels > kMaxChannels || info.samplerate <= 0)
    throw std::runtime_error("audio file '" + path + "' claims " + std::to_string(info.channels) + " channels at " +
                             std::to_string(info.samplerate) + " Hz");
  // Read in chunks rather than trusting the header's frame count: a damaged header may claim any length.
  // Small ones: a 64k-frame chunk cost more to allocate and clear than most files take to read (it held
  // the audio-file fuzz target to 200 inputs a second).
  constexpr sf_count_t kChunkFrames = 4096;
  const auto channels = static_cast<std::size_t>(info.channels);
  std::vector<float> chunk(static_cast<std::size_t>(kChunkFrames) * channels);
  AudioData audio;
  audio.sampleRate = info.samplerate;
  audio.channels.assign(channels, {});
  for (sf_count_t read; (read = sf_readf_float(file.get(), chunk.data(), kChunkFrames)) > 0;)
    for (std::size_t c = 0; c < channels; ++c)
      for (sf_count_t i = 0; i < read; ++i) audio.channels[c].push_back(chunk[static_cast<std::size_t>(i) * channels + c]);
  return audio;
}

void writeAudio(const std::string& path, const AudioData& audio) {
  SF_INFO info{};
  info.samplerate = static_cast<int>(audio.sampleRate);
  info.channels = static_cast<int>(audio.channels.size());
  info.format = formatFor(path);
  SndfilePtr file(sf_open(path.c_str(), SFM_WRITE, &info));
  if (!file) throw std::runtime_error("cannot write audio file '" + path + "': " + sf_strerror(nullptr));
  const int frames = audio.frames();
  std::vector<float> interleaved(static_cast<std::size_t>(frames) * info.channels);
  for (int i = 0; i < frames; ++i)
    for (int c = 0; c < info.channels; ++c)
      interleaved[static_cast<std::size_t>(i) * info.channels + c] = audio.channels[c][i];
  if (sf_writef_float(file.get(), interleaved.data(), frames) != frames)
    throw std::runtime_error("short write to '" + path + "'");
}

}  // namespace lmdm::tools

#include "lmdm/BlockResampler.h"

#include <samplerate.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace lmdm {
namespace {
constexpr std::size_t kMargin = 4;  // zeros kept ahead in the FIFO: more than the +-1 jitter per call
}

BlockResampler::BlockResampler(int inputFrames, int outputFrames)
    : inputFrames_(inputFrames), outputFrames_(outputFrames),
      produced_(static_cast<std::size_t>(outputFrames) + 64), fifo_(2 * static_cast<std::size_t>(outputFrames) + 64) {
  if (inputFrames <= 0 || outputFrames <= 0) throw std::invalid_argument("BlockResampler needs positive block sizes");
  if (inputFrames != outputFrames) {
    int error = 0;
    state_ = src_new(SRC_SINC_MEDIUM_QUALITY, 1, &error);
    if (!state_) throw std::runtime_error(std::string("libsamplerate: ") + src_strerror(error));
  }
  reset();
  delayFrames_ = measureDelay();
}

int BlockResampler::measureDelay() {
  // The largest output sample of an impulse at input frame 0 is where the filter centres it.
  if (!state_) return 0;
  std::vector<float> input(static_cast<std::size_t>(inputFrames_), 0.0f);
  std::vector<float> output(static_cast<std::size_t>(outputFrames_));
  input[0] = 1.0f;
  int peakAt = 0;
  float peak = 0.0f;
  for (int call = 0; call < 4; ++call) {  // the sinc filter is far shorter than four blocks
    process(input.data(), output.data());
    input[0] = 0.0f;
    for (int i = 0; i < outputFrames_; ++i)
      if (std::abs(output[static_cast<std::size_t>(i)]) > peak) {
        peak = std::abs(output[static_cast<std::size_t>(i)]);
        peakAt = call * outputFrames_ + i;
      }
  }
  reset();
  return peakAt;
}

BlockResampler::~BlockResampler() {
  if (state_) src_delete(state_);
}

void BlockResampler::reset() {
  underflows_ = 0;
  if (!state_) return;
  src_reset(state_);
  // Prime with one block of silence and drop what comes out: afterwards each call yields
  // outputFrames +- 1, so the FIFO only needs a few samples of margin.
  std::vector<float> silence(static_cast<std::size_t>(inputFrames_), 0.0f);
  SRC_DATA data{};
  data.data_in = silence.data();
  data.input_frames = inputFrames_;
  data.data_out = produced_.data();
  data.output_frames = static_cast<long>(produced_.size());
  data.src_ratio = static_cast<double>(outputFrames_) / inputFrames_;
  src_process(state_, &data);
  std::fill(fifo_.begin(), fifo_.end(), 0.0f);
  fifoFill_ = kMargin;
}

void BlockResampler::process(const float* input, float* output) {
  if (!state_) {
    std::copy_n(input, inputFrames_, output);
    return;
  }
  SRC_DATA data{};
  data.data_in = input;
  data.input_frames = inputFrames_;
  data.data_out = produced_.data();
  data.output_frames = static_cast<long>(produced_.size());
  data.src_ratio = static_cast<double>(outputFrames_) / inputFrames_;
  src_process(state_, &data);
  const std::size_t made = static_cast<std::size_t>(data.output_frames_gen);
  const std::size_t room = fifo_.size() - fifoFill_;
  std::copy_n(produced_.begin(), std::min(made, room), fifo_.begin() + static_cast<std::ptrdiff_t>(fifoFill_));
  fifoFill_ += std::min(made, room);
  const std::size_t want = static_cast<std::size_t>(outputFrames_);
  if (fifoFill_ < want) {  // ran dry: pad at the front so the stream stays continuous after it
    ++underflows_;
    std::copy_backward(fifo_.begin(), fifo_.begin() + static_cast<std::ptrdiff_t>(fifoFill_),
                       fifo_.begin() + static_cast<std::ptrdiff_t>(want));
    std::fill_n(fifo_.begin(), want - fifoFill_, 0.0f);
    fifoFill_ = want;
  }
  std::copy_n(fifo_.begin(), want, output);
  std::copy(fifo_.begin() + static_cast<std::ptrdiff_t>(want), fifo_.begin() + static_cast<std::ptrdiff_t>(fifoFill_),
            fifo_.begin());
  fifoFill_ -= want;
}

}  // namespace lmdm

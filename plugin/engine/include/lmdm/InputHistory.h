// The most recent input audio, written by the audio thread, read in windows by the worker.
//
// Unlike a FIFO, the writer never waits for the reader and never drops the newest samples: it
// overwrites the oldest ones. Every frame has an absolute index (frames since reset), so a reader
// that fell behind still knows exactly which frames it holds, and can skip to the latest block
// instead of losing sample alignment. Samples are relaxed atomics so a read that races with an
// overwrite is detected (by re-checking the write counter) rather than being undefined behaviour.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace lmdm {

class InputHistory {
 public:
  /** Allocates. Keeps the last `capacityFrames` frames of `channels` channels. */
  InputHistory(int channels, int capacityFrames);

  int channels() const { return channels_; }
  int capacityFrames() const { return capacity_; }

  /** Writer only; real-time safe. Clears the history and restarts frame numbering at 0. */
  void reset();

  /** Writer only; real-time safe. Appends `frames` frames from planar channel pointers. */
  void write(const float* const* channelData, int frames);

  /** Any thread. Frames written since reset (the absolute index of the next frame). */
  std::int64_t framesWritten() const { return written_.load(std::memory_order_acquire); }

  /**
   * Reader only; real-time safe. Copies frames [start, start + frames) into planar `out`
   * (`out[c]` has room for `frames`). Returns false when any of them is not written yet or
   * was overwritten before the copy finished; `out` is then unspecified.
   */
  bool read(std::int64_t start, int frames, float* const* out) const;

 private:
  std::atomic<float>& at(int channel, std::int64_t frame) const {
    return samples_[static_cast<std::size_t>(channel) * static_cast<std::size_t>(capacity_) + static_cast<std::size_t>(frame % capacity_)];
  }

  const int channels_;
  const int capacity_;
  std::unique_ptr<std::atomic<float>[]> samples_;
  std::atomic<std::int64_t> written_{0};
  // End of the write in progress, published before its samples (a seqlock): a reader compares it
  // with its window after copying to learn whether any frame it copied was being overwritten.
  std::atomic<std::int64_t> writingEnd_{0};
};

}  // namespace lmdm

// When to prepare the engine for the buffers a host really sends rather than the maximum it announced.
//
// The delay includes the host's largest buffer M (docs/ARCHITECTURE.md "Timing": L = N + H + F + M),
// and M is what the host announces at prepare, which can be far above what it sends: Ardour's LV2
// hosting announces 8,192 frames whatever its period, 165 ms of delay at 48 kHz for nothing. The watch
// listens to the first second of real-time audio after a host's prepare; if the largest buffer in it
// would save at least kMinimumSavingSeconds, the engine is prepared again for that buffer and the
// smaller latency reported (hosts that take latency changes re-align the track). One decision per
// host prepare, so the latency never oscillates; should a buffer above the adapted size arrive later,
// the engine goes back to the announced maximum for good (its blocks may be late meanwhile and count
// as misses). Offline renders are never adapted: their latency does not reach a player.
#pragma once

#include <cstdint>

namespace lmdm {

class BufferSizeWatch {
 public:
  static constexpr double kListenSeconds = 1.0;
  static constexpr double kMinimumSavingSeconds = 0.005;

  /** The host prepared with `announced` frames: listen again. */
  void hostPrepared(int announced) noexcept;

  /** The buffer size to prepare the engine with now, given the one it runs with (`prepared`) and
      what it saw since: the largest buffer and the frames processed in real time. Returns
      `prepared` when nothing should change. */
  int next(int prepared, int largestSeen, std::int64_t realtimeFrames, double sampleRate) noexcept;

  int announced() const noexcept { return announced_; }

 private:
  int announced_ = 0;
  bool decided_ = false;  // adapted or not: no second adaptation until the host prepares again
};

}  // namespace lmdm

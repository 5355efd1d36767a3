// Timing statistics of a headless run, written as JSON for bench/ to collect and plot.
#pragma once

#include <string>
#include <vector>

#include "lmdm/Engine.h"

namespace lmdm::tools {

struct Percentiles {
  double p50 = 0, p99 = 0, max = 0, mean = 0;
  std::size_t count = 0;
};

/** Allocates. Nearest-rank percentiles of `values` (all zero when empty). */
Percentiles percentiles(std::vector<double> values);

struct RunReport {
  std::string input;
  std::string processor;  // what made the wet signal: "pass-through ..." or "LMDM <package>"
  std::string provider = "none";  // the execution provider running the model ("cpu", "cuda", ...)
  std::string pace;  // "realtime" (paced like a sound card) or "offline" (as fast as possible, no misses)
  double sampleRate = 0;
  int channels = 0;
  int bufferSize = 0;
  bool varyingBuffers = false;
  double audioSeconds = 0;
  double wallSeconds = 0;
  std::string audioThreadScheduling;  // what the simulated audio thread ran at (see RealtimePriority.h)
  std::vector<double> callbackMicros;  // audio-thread time per process() call
  std::vector<double> callbackStartSeconds;  // when each call began, in seconds of audio
  std::vector<double> workerMillis;    // worker time per block
  EngineStats stats;
};

/** Allocates. The report as a JSON object. */
std::string toJson(const RunReport& report);

}  // namespace lmdm::tools

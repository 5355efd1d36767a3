// A long session in a headless host, as a DAW would run the plugin for hours: the input looped, every
// parameter automated every callback, the model package reloaded every few minutes and the buffer
// size changed, each the way the plugin does it (a control thread swaps or re-prepares the engine
// behind lmdm::ProcessGate while the audio thread keeps calling). Counts what went wrong, logs each
// event with its time (what went wrong, each reload and buffer change, with the resident memory then),
// the worker's time per block and the resident memory over time, for bench/soak_bench.py.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "AudioFile.h"
#include "lmdm/Engine.h"
#include "lmdm/OnnxGraph.h"

namespace lmdm::tools {

struct SoakOptions {
  std::string model;            // package folder
  SessionSettings session;      // threads, provider
  double seconds = 60.0;        // audio to process
  bool realtime = true;         // paced like a sound card (misses are real); else as fast as possible
  int buffer = 256;             // the first buffer size
  bool automate = true;         // two random parameters changed every callback
  double reloadSeconds = 300.0;  // the package loaded again this often (0: never)
  double resizeSeconds = 60.0;   // a new buffer size (the host re-prepares) this often (0: never)
  // The first warmUpSeconds reload every warmUpReloadSeconds instead (0: no such phase): glibc's heap
  // reaches its steady fragmentation only after ~15-20 reloads (docs/reliability.md), and growth that
  // goes on after that, not the allocator's fill, is what the memory slope is for.
  double warmUpSeconds = 0.0;
  double warmUpReloadSeconds = 20.0;
  double sampleSeconds = 10.0;   // resident memory sampled this often
  int realtimePriority = 0;      // the audio loop at SCHED_FIFO this priority, as a sound-card thread (0: normal)
  unsigned seed = 1;
};

/** Something that happened at `audioSeconds`: "reload", "reload_failed", "resize" (value: the new
    buffer size), blocks "missed", "shortened", "skipped", "invalid" (value: how many since the
    last poll, every few milliseconds), or "late_callback": the audio loop woke more than
    kLateCallbackMillis after its buffer was due (value: the latest it was since the last poll, ms),
    after which it catches up faster than real time, as a sound card's queued periods do. The memory is sampled when it was seen: resident, and the
    allocator's heap in use and kept free for reuse (glibc's; 0 elsewhere and under a sanitizer), which tells a leak (in use
    grows) from memory the allocator retains (free grows). */
struct SoakEvent {
  double audioSeconds = 0;
  std::string kind;
  double value = 0;
  double residentMegabytes = 0;
  double heapInUseMegabytes = 0, heapFreeMegabytes = 0;
};

struct SoakReport {
  double audioSeconds = 0, wallSeconds = 0;
  double sampleRate = 0;
  long long callbacks = 0;
  long long gatedCallbacks = 0;  // callbacks that passed audio through while the engine was swapped
  int reloads = 0, resizes = 0;
  std::vector<std::string> reloadFailures;
  long long nonFiniteSamples = 0;
  float peak = 0.0f;
  EngineStats totals;  // blocks played / missed / skipped / invalid over every prepare
  std::vector<std::pair<double, double>> residentMegabytes;  // (audio seconds, RSS MB)
  std::vector<int> bufferSizes;                              // each size the host used, in order
  std::vector<SoakEvent> events;                             // in order of time
  std::vector<std::pair<double, float>> workerMillis;        // (audio seconds when seen, ms) per block
  std::string audioThreadScheduling = "SCHED_OTHER";         // what the audio loop got
};

/** An audio callback this much later than its buffer was due is logged ("late_callback"). */
constexpr double kLateCallbackMillis = 10.0;

/** Allocates, spawns the control thread; throws when the package does not load at the start. */
SoakReport runSoak(const AudioData& input, const SoakOptions& options);

std::string toJson(const SoakReport& report, const SoakOptions& options);

}  // namespace lmdm::tools

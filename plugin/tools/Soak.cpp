#include "Soak.h"

#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "RealtimePriority.h"
#include "lmdm/LmdmProcessor.h"
#include "lmdm/ProcessGate.h"

namespace lmdm::tools {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kLargestBuffer = 8192;
// Sizes a host may switch to, odd ones included (some hosts hand over whatever the device gives).
constexpr int kBufferSizes[] = {32, 64, 128, 256, 441, 512, 1024, 2048, 4096, 8192};
// The package's default and the cheaper counts: more steps than the default cost more than a block.
constexpr float kStepChoices[] = {0.0f, 2.0f, 4.0f, 8.0f};

double residentMegabytes() {
  std::ifstream statm("/proc/self/statm");  // Linux; elsewhere the samples read 0
  long long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

// What the allocator holds: (in use, kept free for reuse) in MB, to tell a leak from retained memory.
std::pair<double, double> heapMegabytes() {
#if defined(__GLIBC__)
  const struct mallinfo2 info = mallinfo2();
  return {static_cast<double>(info.uordblks + info.hblkhd) / (1024.0 * 1024.0),
          static_cast<double>(info.fordblks) / (1024.0 * 1024.0)};
#else
  return {0.0, 0.0};
#endif
}

void add(EngineStats& totals, const EngineStats& stretch) {
  totals.blocksPlayed += stretch.blocksPlayed;
  totals.blocksMissed += stretch.blocksMissed;
  totals.blocksSkipped += stretch.blocksSkipped;
  totals.blocksInvalid += stretch.blocksInvalid;
  totals.blocksShortened += stretch.blocksShortened;
  totals.memoryTrims += stretch.memoryTrims;
  totals.slowestTrimMillis = std::max(totals.slowestTrimMillis, stretch.slowestTrimMillis);
  totals.blockFrames = stretch.blockFrames;
  totals.latencyFrames = stretch.latencyFrames;
}

// A host's automation: one random parameter to a random value in its range (steps among kStepChoices).
void automate(Engine& engine, std::mt19937& random) {
  const auto& spec = kParameterSpecs[std::uniform_int_distribution<std::size_t>(0, kParameterSpecs.size() - 1)(random)];
  float value = std::uniform_real_distribution<float>(spec.minValue, spec.maxValue)(random);
  if (spec.id == ParameterId::Steps) value = kStepChoices[random() % std::size(kStepChoices)];
  if (spec.id == ParameterId::Bypass) value = random() % 50 == 0 ? 1.0f : 0.0f;  // bypassed now and then
  if (spec.isToggle) value = std::round(value);
  engine.setParameter(spec.id, value);
}

}  // namespace

SoakReport runSoak(const AudioData& input, const SoakOptions& o) {
  const int channels = static_cast<int>(input.channels.size());
  const double rate = input.sampleRate;
  if (input.frames() == 0 || channels < 1 || channels > Engine::kMaxChannels)
    throw std::runtime_error("the soak needs audio with 1.." + std::to_string(Engine::kMaxChannels) + " channels");
  if (o.buffer < 1 || o.buffer > kLargestBuffer) throw std::runtime_error("the buffer must be within 1..8192");
  auto first = std::make_unique<LmdmProcessor>(o.model, o.session);
  if (!first->ready()) throw std::runtime_error(first->status());
  Engine engine(std::move(first));
  engine.setNonRealtime(!o.realtime);  // offline: the engine waits for each block, so nothing is missed
  ProcessGate gate;
  engine.prepare(rate, o.buffer, channels);
  gate.open();

  SoakReport report;
  report.sampleRate = rate;
  report.bufferSizes.push_back(o.buffer);
  std::atomic<int> buffer{o.buffer};
  std::atomic<long long> processedFrames{0};
  std::atomic<bool> finished{false};
  std::atomic<double> latestLateness{0.0};  // ms: the audio loop's latest wake-up since the control thread looked
  const auto totalFrames = static_cast<long long>(o.seconds * rate);
  // The logs' room made up front and written once: the soak measures the resident memory, so its own
  // records must not grow it as the hour goes on, neither by reallocating nor by touching reserved pages
  // (an hour's worker times and shortened blocks did, by about 0.8 MB: docs/reliability.md).
  const auto expected = [&](double perSecond) { return static_cast<std::size_t>(o.seconds * perSecond) + 64; };
  const double blocksPerSecond = rate / std::max(1, engine.blockFrames());
  const auto makeResident = [](auto& log, std::size_t capacity) {
    log.resize(capacity);
    log.clear();  // keeps the capacity, whose pages are now resident
  };
  makeResident(report.workerMillis, expected(blocksPerSecond));
  makeResident(report.residentMegabytes, expected(1.0 / o.sampleSeconds));
  // At most one event per kind and block (polls come every few ms), plus the reloads and buffer changes.
  makeResident(report.events, expected(2.0 * blocksPerSecond + 1.0));

  // The engine's counters, polled every few milliseconds by the control thread (and once at the end),
  // so that each miss is logged near its time.
  EngineStats seen;  // the counters already logged since the last prepare
  std::vector<float> millis(4096);
  const auto now = [&] { return static_cast<double>(processedFrames.load()) / rate; };
  const auto log = [&](const char* kind, double value) {
    const auto [inUse, free] = heapMegabytes();
    report.events.push_back({now(), kind, value, residentMegabytes(), inUse, free});
  };
  const auto poll = [&] {
    const EngineStats s = engine.stats();
    const std::pair<const char*, std::int64_t> counters[] = {
        {"missed", s.blocksMissed - seen.blocksMissed}, {"shortened", s.blocksShortened - seen.blocksShortened},
        {"skipped", s.blocksSkipped - seen.blocksSkipped}, {"invalid", s.blocksInvalid - seen.blocksInvalid}};
    for (const auto& [kind, count] : counters)
      if (count > 0) log(kind, static_cast<double>(count));
    const double lateness = latestLateness.exchange(0.0);
    if (lateness > kLateCallbackMillis) log("late_callback", lateness);
    seen = s;
    const std::size_t drained = engine.drainWorkerMillis(millis.data(), millis.size());
    for (std::size_t i = 0; i < drained; ++i) report.workerMillis.emplace_back(now(), millis[i]);
  };
  // The control thread: what a DAW's message thread and the host's re-prepares do meanwhile.
  std::thread control([&] {
    std::mt19937 random(o.seed + 1);
    const auto reloadInterval = [&](double at) {
      return at < o.warmUpSeconds && o.warmUpReloadSeconds > 0 ? o.warmUpReloadSeconds : o.reloadSeconds;
    };
    double nextReload = reloadInterval(0.0) > 0 ? reloadInterval(0.0) : INFINITY;
    double nextResize = o.resizeSeconds > 0 ? o.resizeSeconds : INFINITY;
    double nextSample = 0.0;
    // Everything the engine counted since its last prepare goes into the totals, and the log starts over.
    const auto closeStretch = [&] {
      gate.close();
      poll();
      add(report.totals, engine.stats());
      seen = EngineStats{};
    };
    while (!finished.load()) {
      poll();
      if (now() >= nextSample) {
        report.residentMegabytes.emplace_back(now(), residentMegabytes());
        nextSample += o.sampleSeconds;
      }
      if (now() >= nextReload) {
        const double interval = reloadInterval(nextReload);
        nextReload = interval > 0 ? nextReload + interval : INFINITY;
        auto processor = std::make_unique<LmdmProcessor>(o.model, o.session);  // slow: the audio keeps running
        if (!processor->ready()) {
          report.reloadFailures.push_back(processor->status());
          log("reload_failed", 0.0);
        } else {
          closeStretch();
          engine.setProcessor(std::move(processor));  // the old model is freed here
          engine.prepare(rate, buffer.load(), channels);
          gate.open();
          ++report.reloads;
          log("reload", buffer.load());
        }
      }
      if (now() >= nextResize) {
        nextResize += o.resizeSeconds;
        const int size = kBufferSizes[random() % std::size(kBufferSizes)];
        closeStretch();
        engine.prepare(rate, size, channels);
        buffer.store(size);
        gate.open();
        ++report.resizes;
        report.bufferSizes.push_back(size);
        log("resize", size);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });

  // The audio thread: this one. Preallocated, as a callback would be.
  std::vector<std::vector<float>> in(channels, std::vector<float>(kLargestBuffer)), out = in;
  const float* inputs[Engine::kMaxChannels];
  float* outputs[Engine::kMaxChannels];
  for (int c = 0; c < channels; ++c) {
    inputs[c] = in[c].data();
    outputs[c] = out[c].data();
  }
  // After the control thread started, which must keep the normal priority a DAW's message thread has.
  if (o.realtime && o.realtimePriority > 0) report.audioThreadScheduling = requestRealtimePriority(o.realtimePriority);
  std::mt19937 random(o.seed);
  long long processed = 0, source = 0;
  const auto start = Clock::now();
  while (processed < totalFrames) {
    const int frames = buffer.load();
    for (int i = 0; i < frames; ++i)
      for (int c = 0; c < channels; ++c) in[c][i] = input.channels[c][(source + i) % input.frames()];
    if (o.realtime) {
      const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(static_cast<double>(processed + frames) / rate));
      std::this_thread::sleep_until(due);
      const double lateness = std::chrono::duration<double, std::milli>(Clock::now() - due).count();
      if (lateness > latestLateness.load(std::memory_order_relaxed)) latestLateness.store(lateness);
    }
    if (o.automate)
      for (int change = 0; change < 2; ++change) automate(engine, random);
    if (gate.enter()) {
      const InsideGate inside(gate);
      engine.process(inputs, outputs, frames);
    } else if (!o.realtime) {  // offline, time does not pass: wait for the engine as offline renders do
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    } else {
      for (int c = 0; c < channels; ++c) std::copy_n(in[c].data(), frames, out[c].data());
      ++report.gatedCallbacks;
    }
    for (int c = 0; c < channels; ++c)
      for (int i = 0; i < frames; ++i) {
        const float sample = out[c][i];
        if (!std::isfinite(sample)) ++report.nonFiniteSamples;
        else report.peak = std::max(report.peak, std::fabs(sample));
      }
    processed += frames;
    source = (source + frames) % input.frames();
    processedFrames.store(processed);
    ++report.callbacks;
  }
  finished.store(true);
  control.join();
  poll();  // what the last few milliseconds counted
  report.residentMegabytes.emplace_back(static_cast<double>(processed) / rate, residentMegabytes());
  report.wallSeconds = std::chrono::duration<double>(Clock::now() - start).count();
  report.audioSeconds = static_cast<double>(processed) / rate;
  add(report.totals, engine.stats());
  engine.release();
  return report;
}

std::string toJson(const SoakReport& r, const SoakOptions& o) {
  std::ostringstream out;
  out.precision(8);
  out << "{\n  \"model\": \"" << o.model << "\",\n"
      << "  \"pace\": \"" << (o.realtime ? "realtime" : "offline") << "\",\n"
      << "  \"sample_rate\": " << r.sampleRate << ",\n  \"block_frames\": " << r.totals.blockFrames << ",\n"
      << "  \"audio_seconds\": " << r.audioSeconds << ",\n  \"wall_seconds\": " << r.wallSeconds << ",\n"
      << "  \"automate\": " << (o.automate ? "true" : "false") << ",\n"
      << "  \"reload_seconds\": " << o.reloadSeconds << ",\n  \"resize_seconds\": " << o.resizeSeconds << ",\n"
      << "  \"warm_up_seconds\": " << o.warmUpSeconds << ",\n  \"warm_up_reload_seconds\": " << o.warmUpReloadSeconds
      << ",\n"
      << "  \"audio_thread_scheduling\": \"" << r.audioThreadScheduling << "\",\n"
      << "  \"callbacks\": " << r.callbacks << ",\n  \"gated_callbacks\": " << r.gatedCallbacks << ",\n"
      << "  \"reloads\": " << r.reloads << ",\n  \"reload_failures\": " << r.reloadFailures.size() << ",\n"
      << "  \"resizes\": " << r.resizes << ",\n  \"buffer_sizes\": [";
  for (std::size_t i = 0; i < r.bufferSizes.size(); ++i) out << (i ? ", " : "") << r.bufferSizes[i];
  out << "],\n  \"non_finite_samples\": " << r.nonFiniteSamples << ",\n  \"peak\": " << r.peak << ",\n"
      << "  \"blocks_played\": " << r.totals.blocksPlayed << ",\n  \"blocks_missed\": " << r.totals.blocksMissed << ",\n"
      << "  \"blocks_skipped\": " << r.totals.blocksSkipped << ",\n  \"blocks_invalid\": " << r.totals.blocksInvalid << ",\n"
      << "  \"blocks_shortened\": " << r.totals.blocksShortened << ",\n"
      << "  \"memory_trims\": " << r.totals.memoryTrims << ",\n  \"slowest_trim_ms\": " << r.totals.slowestTrimMillis
      << ",\n"
      << "  \"resident_mb\": [";
  for (std::size_t i = 0; i < r.residentMegabytes.size(); ++i)
    out << (i ? ", " : "") << "[" << r.residentMegabytes[i].first << ", " << r.residentMegabytes[i].second << "]";
  out << "],\n  \"events\": [";
  for (std::size_t i = 0; i < r.events.size(); ++i) {
    const SoakEvent& e = r.events[i];
    out << (i ? ",\n    " : "\n    ") << "{\"seconds\": " << e.audioSeconds << ", \"kind\": \"" << e.kind
        << "\", \"value\": " << e.value << ", \"resident_mb\": " << e.residentMegabytes
        << ", \"heap_in_use_mb\": " << e.heapInUseMegabytes << ", \"heap_free_mb\": " << e.heapFreeMegabytes << "}";
  }
  out << "],\n  \"worker_ms\": [";
  for (std::size_t i = 0; i < r.workerMillis.size(); ++i)
    out << (i ? ", " : "") << "[" << r.workerMillis[i].first << ", " << r.workerMillis[i].second << "]";
  out << "]\n}\n";
  return out.str();
}

}  // namespace lmdm::tools

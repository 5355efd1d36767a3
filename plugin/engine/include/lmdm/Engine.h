// The real-time engine: the audio thread moves samples, a worker thread runs the model in blocks.
//
// Timing contract (see docs/ARCHITECTURE.md): the worker turns input block k (frames
// [kN, (k+1)N)) into output block k, which the audio thread plays starting a fixed schedule after the
// input frame it came from. What the processor writes into a block may itself lag its input (the VAE
// decoder's overlap, the resamplers: BlockProcessor::delayFrames), so the reported `latencyFrames()`
// is that schedule plus the processor's delay. The dry signal is delayed by the reported latency, so
// the whole output is the input's timeline shifted by it, which the host compensates.
// A block that is not ready in time is replaced by the delayed dry signal (crossfaded) and counted.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "lmdm/BlockProcessor.h"
#include "lmdm/InputHistory.h"
#include "lmdm/Parameters.h"
#include "lmdm/SmoothedValue.h"
#include "lmdm/SpscRingBuffer.h"
#include "lmdm/WorkerSignal.h"

namespace lmdm {

struct EngineStats {
  bool running = false;
  int latencyFrames = 0;
  int processorDelayFrames = 0;    // the part of latencyFrames the model's own audio path adds
  int blockFrames = 0;
  int headroomFrames = 0;          // the worker's time for a block after its input is complete
  int maxBufferFrames = 0;         // the largest host buffer the latency allows for (prepare's maxBlockSize)
  int largestBufferFrames = 0;     // the largest buffer process() was given since prepare
  std::int64_t realtimeFrames = 0; // frames processed since prepare outside non-realtime mode
  std::int64_t blocksPlayed = 0;   // generated blocks the audio thread played
  std::int64_t blocksMissed = 0;   // blocks replaced by the dry signal because they were late
  std::int64_t blocksSkipped = 0;  // input blocks the worker skipped to catch up
  std::int64_t blocksInvalid = 0;  // generated blocks thrown away for NaN/Inf samples
  std::int64_t blocksShortened = 0;  // blocks the model finished with fewer steps to meet their deadline
  float lastWorkerMillis = 0.0f;   // compute time of the latest block
  std::int64_t memoryTrims = 0;    // times the worker returned freed memory between blocks
  float slowestTrimMillis = 0.0f;  // the longest of them
};

class Engine {
 public:
  static constexpr int kMaxChannels = 8;
  /** How often the worker returns the memory its runs freed (returnFreedMemory), between blocks:
      glibc keeps it resident otherwise, and an hour's blocks added it up (docs/reliability.md). */
  static constexpr std::chrono::seconds kMemoryTrimInterval{5};

  /** Allocates. The engine owns the model; nothing runs until prepare(). */
  explicit Engine(std::unique_ptr<BlockProcessor> processor);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /** Allocates; stops and restarts the worker, returning freed memory to the system meanwhile
      (returnFreedMemory). Not to be called concurrently with process(). */
  void prepare(double sampleRate, int maxBlockSize, int channels);

  /** Stops the worker and frees nothing (prepare() may follow). */
  void release();

  /** Replaces the model (e.g. another package) and stops the worker; process() is silent until the
   * next prepare(). Frees the old model and returns its memory to the system (returnFreedMemory).
   * Allocates; not to be called concurrently with process(). */
  void setProcessor(std::unique_ptr<BlockProcessor> processor);

  /**
   * Real-time safe: no allocation, lock, I/O or wait (except in non-realtime mode, where it may
   * wait for the worker so offline renders never miss). `input` and `output` hold `channels`
   * planar pointers and may alias. Any `frames` >= 0 works, also above maxBlockSize.
   */
  void process(const float* const* input, float* const* output, int frames);

  /** Any thread. Offline rendering: process() waits for late blocks instead of missing them. */
  void setNonRealtime(bool nonRealtime) { nonRealtime_.store(nonRealtime, std::memory_order_relaxed); }

  /** Any thread; real-time safe. Values are clamped to their spec's range. */
  void setParameter(ParameterId id, float value);
  float parameter(ParameterId id) const;
  void setParameters(const ParameterValues& values);
  ParameterValues parameters() const;

  /** Any thread; valid after prepare(). The delay (frames) from an input frame to its output;
      constant until the next prepare(). Hosts ask for it (and the tail length built on it) from
      their own threads while another may be preparing, hence an atomic copy. */
  int latencyFrames() const { return reportedLatency_.load(std::memory_order_relaxed); }
  int blockFrames() const { return blockFrames_; }
  int channels() const { return channels_; }
  const BlockProcessor& processor() const { return *processor_; }

  /** Any thread. */
  EngineStats stats() const;

  /** One consumer thread only (e.g. a UI timer or benchmark). Pops recent worker times (ms). */
  std::size_t drainWorkerMillis(float* destination, std::size_t maxCount);

 private:
  struct Slot {
    std::int64_t block = 0;
    std::vector<float> samples;  // planar: channel c at [c·N, (c+1)·N)
  };

  void startWorker();
  void stopWorker();
  void workerLoop();
  void produceReadyBlocks();
  void produceBlock(std::int64_t block);
  void returnFreedMemoryIfDue();
  std::int64_t decisionFrame(std::int64_t block) const;

  // Audio-thread helpers.
  void processChunk(const float* const* input, float* const* output, int frames);
  float wetGainTarget() const;  // the wet gain parameter as a linear factor
  void advanceBlockState(std::int64_t block, int offset);
  bool acquireBlock(std::int64_t block);
  float wetAvailability(int offset) const;

  std::unique_ptr<BlockProcessor> processor_;
  double sampleRate_ = 0.0;
  int maxBlockSize_ = 0;
  int channels_ = 0;
  int blockFrames_ = 0;
  int fadeFrames_ = 0;
  int headroomFrames_ = 0;  // the worker's time per block: the processor's share of a block
  int latency_ = 0;         // the schedule: output block k starts latency_ frames after input block k
  int processorDelay_ = 0;  // what the processor's audio lags its block (reported, not scheduled)
  std::atomic<int> reportedLatency_{0};  // latency_ + processorDelay_, for readers on any thread

  // Shared between threads.
  std::unique_ptr<InputHistory> history_;
  std::vector<Slot> slots_;
  std::unique_ptr<SpscRingBuffer<int>> readySlots_;  // worker -> audio
  std::unique_ptr<SpscRingBuffer<int>> freeSlots_;   // audio -> worker
  std::unique_ptr<SpscRingBuffer<float>> workerMillis_;
  WorkerSignal wakeWorker_;
  std::thread worker_;
  std::atomic<bool> stopRequested_{false};
  std::atomic<bool> running_{false};
  std::atomic<bool> nonRealtime_{false};
  std::atomic<float> mixTarget_;
  std::atomic<float> feedbackTarget_;
  std::atomic<bool> bypassTarget_;
  std::array<std::atomic<float>, kParameterSpecs.size()> modelParameters_{};  // by id; read by the worker per block
  std::atomic<std::int64_t> blocksPlayed_{0}, blocksMissed_{0}, blocksSkipped_{0}, blocksInvalid_{0};
  std::int64_t shortenedBeforePrepare_ = 0;
  std::atomic<float> lastWorkerMillis_{0.0f};
  std::atomic<std::int64_t> memoryTrims_{0};
  std::atomic<float> slowestTrimMillis_{0.0f};
  // What the host sends, for BufferSizeWatch: written by the audio thread only, read from any.
  std::atomic<int> largestBuffer_{0};
  std::atomic<std::int64_t> realtimeFrames_{0};
  std::atomic<std::int64_t> blocksFinished_{0};  // the worker is done with every block below this

  // Worker-thread state.
  std::int64_t nextInputBlock_ = 0;
  std::chrono::steady_clock::time_point lastTrim_;
  std::vector<float> workerInput_, workerOutput_;
  std::vector<float*> workerInputPtrs_, workerOutputPtrs_;

  // Audio-thread state.
  std::int64_t framesProcessed_ = 0;
  std::int64_t currentBlock_ = 0;
  int currentSlot_ = -1, nextSlot_ = -1;
  bool currentOk_ = true, previousOk_ = true, nextOk_ = true, nextDecided_ = false;
  std::vector<float> dryLine_;  // planar circular delay line, dryLineFrames_ per channel
  int dryLineFrames_ = 0;
  std::vector<float> send_;     // planar, maxBlockSize per channel: input + feedback, to the worker
  std::vector<const float*> sendPtrs_;
  SmoothedValue mix_, feedback_, bypass_, wetGain_;
};

}  // namespace lmdm

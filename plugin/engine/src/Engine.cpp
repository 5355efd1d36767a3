#include "lmdm/Engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>

#include "lmdm/FreedMemory.h"

namespace lmdm {
namespace {

constexpr double kFadeSeconds = 0.005;          // wet <-> dry crossfade when a block is missed
constexpr double kParameterRampSeconds = 0.02;  // parameter smoothing
constexpr auto kNonRealtimeWaitLimit = std::chrono::seconds(10);

std::int64_t floorDiv(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

bool allFinite(const std::vector<float>& samples) {
  return std::all_of(samples.begin(), samples.end(), [](float s) { return std::isfinite(s); });
}

}  // namespace

Engine::Engine(std::unique_ptr<BlockProcessor> processor) : processor_(std::move(processor)) {
  if (!processor_) throw std::invalid_argument("Engine: no BlockProcessor");
  setParameters(ParameterValues{});
}

Engine::~Engine() { stopWorker(); }

void Engine::prepare(double sampleRate, int maxBlockSize, int channels) {
  if (!(sampleRate > 0.0) || maxBlockSize <= 0 || channels <= 0 || channels > kMaxChannels)
    throw std::invalid_argument("Engine::prepare: need a positive sample rate and block size, and 1.." +
                                std::to_string(kMaxChannels) + " channels");
  stopWorker();
  sampleRate_ = sampleRate;
  maxBlockSize_ = maxBlockSize;
  channels_ = channels;
  blockFrames_ = processor_->prepare(sampleRate, channels);
  if (blockFrames_ <= 0) throw std::runtime_error("Engine::prepare: the model reported an empty block");
  const int n = blockFrames_;
  fadeFrames_ = std::clamp(static_cast<int>(std::lround(kFadeSeconds * sampleRate)), 1, std::max(1, n / 2));
  // One block to fill, the worker's headroom (the processor's share of a block), the early decision
  // (fade) and the host buffer, whose last sample may arrive a whole buffer after its first
  // (docs/ARCHITECTURE.md derives it).
  const double share = std::clamp(processor_->headroomShare(), 0.0, 1.0);
  headroomFrames_ = std::clamp(static_cast<int>(std::ceil(share * n)), 1, n);
  latency_ = n + headroomFrames_ + fadeFrames_ + maxBlockSize_;
  processorDelay_ = std::max(0, processor_->delayFrames());
  reportedLatency_.store(latency_ + processorDelay_, std::memory_order_relaxed);

  history_ = std::make_unique<InputHistory>(channels, 2 * latency_ + n);
  // Every block between "input complete" and "played" needs a slot: up to L/N of them when a host
  // buffer holds several blocks, plus the one playing and the one being filled.
  const int slotCount = (latency_ + n - 1) / n + 2;
  slots_.assign(static_cast<std::size_t>(slotCount), Slot{});
  for (auto& slot : slots_) slot.samples.assign(static_cast<std::size_t>(channels) * n, 0.0f);
  readySlots_ = std::make_unique<SpscRingBuffer<int>>(static_cast<std::size_t>(slotCount));
  freeSlots_ = std::make_unique<SpscRingBuffer<int>>(static_cast<std::size_t>(slotCount));
  for (int s = 0; s < slotCount; ++s) freeSlots_->push(s);
  workerMillis_ = std::make_unique<SpscRingBuffer<float>>(4096);

  workerInput_.assign(static_cast<std::size_t>(channels) * n, 0.0f);
  workerOutput_.assign(static_cast<std::size_t>(channels) * n, 0.0f);
  workerInputPtrs_.resize(channels);
  workerOutputPtrs_.resize(channels);
  for (int c = 0; c < channels; ++c) {
    workerInputPtrs_[c] = workerInput_.data() + static_cast<std::size_t>(c) * n;
    workerOutputPtrs_[c] = workerOutput_.data() + static_cast<std::size_t>(c) * n;
  }
  nextInputBlock_ = 0;
  blocksFinished_ = 0;

  framesProcessed_ = 0;
  largestBuffer_.store(0, std::memory_order_relaxed);
  realtimeFrames_.store(0, std::memory_order_relaxed);
  currentBlock_ = floorDiv(-latency_, n);  // the pre-roll: silent blocks before input block 0
  currentSlot_ = nextSlot_ = -1;
  currentOk_ = previousOk_ = nextOk_ = true;
  nextDecided_ = false;
  dryLineFrames_ = latencyFrames() + 1;
  dryLine_.assign(static_cast<std::size_t>(channels) * dryLineFrames_, 0.0f);
  send_.assign(static_cast<std::size_t>(channels) * maxBlockSize_, 0.0f);
  sendPtrs_.resize(channels);
  for (int c = 0; c < channels; ++c) sendPtrs_[c] = send_.data() + static_cast<std::size_t>(c) * maxBlockSize_;
  const int ramp = static_cast<int>(std::lround(kParameterRampSeconds * sampleRate));
  mix_.reset(mixTarget_.load(), ramp);
  feedback_.reset(feedbackTarget_.load(), ramp);
  bypass_.reset(bypassTarget_.load() ? 1.0f : 0.0f, ramp);
  wetGain_.reset(wetGainTarget(), ramp);

  blocksPlayed_ = blocksMissed_ = blocksSkipped_ = blocksInvalid_ = 0;
  shortenedBeforePrepare_ = processor_->blocksShortened();  // the processor counts over its life, stats since prepare
  lastWorkerMillis_ = 0.0f;
  memoryTrims_ = 0;
  slowestTrimMillis_ = 0.0f;
  // The old buffers and what the stopped worker's runs left free in its arena: glibc keeps them
  // resident until trimmed, and a session's buffer changes added them up (docs/reliability.md).
  returnFreedMemory();
  startWorker();
}

void Engine::release() { stopWorker(); }

void Engine::setProcessor(std::unique_ptr<BlockProcessor> processor) {
  if (!processor) throw std::invalid_argument("Engine: no BlockProcessor");
  stopWorker();
  history_.reset();  // process() does nothing until prepare() sizes everything for the new model
  processor_ = std::move(processor);  // frees the old model
  returnFreedMemory();  // else the allocator keeps its tens of MB resident, and each reload adds to them
}

// ---------------------------------------------------------------- parameters

void Engine::setParameter(ParameterId id, float value) {
  const ParameterSpec& s = spec(id);
  if (!std::isfinite(value)) value = s.defaultValue;
  value = std::clamp(value, s.minValue, s.maxValue);
  switch (id) {
    case ParameterId::Mix: mixTarget_.store(value); break;
    case ParameterId::Feedback: feedbackTarget_.store(value); break;
    case ParameterId::Bypass: bypassTarget_.store(value >= 0.5f); break;
    default: modelParameters_[static_cast<std::size_t>(id)].store(value, std::memory_order_relaxed); break;
  }
}

float Engine::parameter(ParameterId id) const {
  switch (id) {
    case ParameterId::Mix: return mixTarget_.load();
    case ParameterId::Feedback: return feedbackTarget_.load();
    case ParameterId::Bypass: return bypassTarget_.load() ? 1.0f : 0.0f;
    default: return modelParameters_[static_cast<std::size_t>(id)].load(std::memory_order_relaxed);
  }
}

float Engine::wetGainTarget() const {
  const float decibels = modelParameters_[static_cast<std::size_t>(ParameterId::WetGain)].load(std::memory_order_relaxed);
  return std::pow(10.0f, decibels / 20.0f);
}

void Engine::setParameters(const ParameterValues& values) {
  for (const auto& s : kParameterSpecs) setParameter(s.id, valueOf(values, s.id));
}

ParameterValues Engine::parameters() const {
  ParameterValues values;
  for (const auto& s : kParameterSpecs) assign(values, s.id, parameter(s.id));
  return values;
}

EngineStats Engine::stats() const {
  EngineStats s;
  s.running = running_.load();
  s.latencyFrames = latencyFrames();
  s.processorDelayFrames = processorDelay_;
  s.blockFrames = blockFrames_;
  s.headroomFrames = headroomFrames_;
  s.maxBufferFrames = maxBlockSize_;
  s.largestBufferFrames = largestBuffer_.load(std::memory_order_relaxed);
  s.realtimeFrames = realtimeFrames_.load(std::memory_order_relaxed);
  s.blocksPlayed = blocksPlayed_.load();
  s.blocksMissed = blocksMissed_.load();
  s.blocksSkipped = blocksSkipped_.load();
  s.blocksInvalid = blocksInvalid_.load();
  s.blocksShortened = processor_->blocksShortened() - shortenedBeforePrepare_;
  s.lastWorkerMillis = lastWorkerMillis_.load();
  s.memoryTrims = memoryTrims_.load();
  s.slowestTrimMillis = slowestTrimMillis_.load();
  return s;
}

std::size_t Engine::drainWorkerMillis(float* destination, std::size_t maxCount) {
  if (!workerMillis_) return 0;
  const std::size_t count = std::min(maxCount, workerMillis_->availableToRead());
  workerMillis_->pop(destination, count);
  return count;
}

// ---------------------------------------------------------------- worker thread

void Engine::startWorker() {
  stopRequested_ = false;
  running_ = true;
  lastTrim_ = std::chrono::steady_clock::now();  // prepare() has just trimmed
  worker_ = std::thread([this] { workerLoop(); });
}

void Engine::stopWorker() {
  if (!worker_.joinable()) return;
  stopRequested_ = true;
  wakeWorker_.notify();
  worker_.join();
  running_ = false;
}

void Engine::workerLoop() {
  // The timeout only bounds how long a stop request can go unseen; blocks arrive by notification.
  while (!stopRequested_.load()) {
    wakeWorker_.waitFor(std::chrono::milliseconds(20));
    produceReadyBlocks();
  }
}

std::int64_t Engine::decisionFrame(std::int64_t block) const {
  // The audio-thread frame at which it decides whether `block` arrived (fadeFrames_ before playing it).
  return block * blockFrames_ - fadeFrames_ + latency_;
}

void Engine::produceReadyBlocks() {
  while (!stopRequested_.load()) {
    const std::int64_t written = history_->framesWritten();
    const std::int64_t complete = written / blockFrames_;
    if (nextInputBlock_ >= complete) return;
    // Catch up: blocks whose decision already passed would be thrown away; keep the newest.
    while (nextInputBlock_ < complete - 1 && decisionFrame(nextInputBlock_) < written) {
      ++nextInputBlock_;
      ++blocksSkipped_;
    }
    produceBlock(nextInputBlock_++);
    blocksFinished_.store(nextInputBlock_, std::memory_order_release);
    returnFreedMemoryIfDue();
  }
}

void Engine::returnFreedMemoryIfDue() {
  // Each block's runs free what they allocated, and glibc keeps those pages resident in the worker's
  // arena until trimmed; only reloads and prepares trimmed, so the resident memory crept between them.
  const auto now = std::chrono::steady_clock::now();
  if (now - lastTrim_ < kMemoryTrimInterval) return;
  // In real time only when no complete block waits: the trim (a few ms) then spends the worker's idle
  // time before the next block's input is in, never a block's headroom.
  if (!nonRealtime_.load(std::memory_order_relaxed) && nextInputBlock_ < history_->framesWritten() / blockFrames_)
    return;
  returnFreedMemory();
  lastTrim_ = std::chrono::steady_clock::now();
  const float millis = std::chrono::duration<float, std::milli>(lastTrim_ - now).count();
  ++memoryTrims_;
  if (millis > slowestTrimMillis_.load()) slowestTrimMillis_ = millis;
}

void Engine::produceBlock(std::int64_t block) {
  if (!history_->read(block * blockFrames_, blockFrames_, workerInputPtrs_.data())) {
    ++blocksSkipped_;  // overwritten while we were busy: far too late anyway
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  const ParameterValues values = parameters();  // the model's parameters change at block boundaries
  BlockIO io{workerInputPtrs_.data(), workerOutputPtrs_.data(), channels_, blockFrames_, block, &values};
  if (!nonRealtime_.load(std::memory_order_relaxed)) {
    // The audio thread reaches the decision frame no earlier than its input arrives in real time:
    // (decision - written) frames from now, as the host buffer holding it is processed after it.
    const double seconds = static_cast<double>(decisionFrame(block) - history_->framesWritten()) / sampleRate_;
    io.deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(seconds));
  }
  processor_->process(io);
  const float millis = std::chrono::duration<float, std::milli>(std::chrono::steady_clock::now() - start).count();
  lastWorkerMillis_ = millis;
  workerMillis_->push(millis);  // dropped when nobody drains: fine, it is telemetry

  if (!allFinite(workerOutput_)) {
    ++blocksInvalid_;
    return;
  }
  int slot = -1;
  if (!freeSlots_->pop(slot)) {
    ++blocksSkipped_;  // the audio thread has not returned a slot: it is far behind or stopped
    return;
  }
  slots_[slot].block = block;
  std::copy(workerOutput_.begin(), workerOutput_.end(), slots_[slot].samples.begin());
  readySlots_->push(slot);
}

// ---------------------------------------------------------------- audio thread

void Engine::process(const float* const* input, float* const* output, int frames) {
  if (frames <= 0 || !history_) return;
  if (frames > largestBuffer_.load(std::memory_order_relaxed)) largestBuffer_.store(frames, std::memory_order_relaxed);
  if (!nonRealtime_.load(std::memory_order_relaxed))
    realtimeFrames_.store(realtimeFrames_.load(std::memory_order_relaxed) + frames, std::memory_order_relaxed);
  const float* chunkIn[kMaxChannels];
  float* chunkOut[kMaxChannels];
  const int channels = channels_;
  for (int offset = 0; offset < frames; offset += maxBlockSize_) {
    const int count = std::min(maxBlockSize_, frames - offset);
    for (int c = 0; c < channels; ++c) {
      chunkIn[c] = input[c] + offset;
      chunkOut[c] = output[c] + offset;
    }
    processChunk(chunkIn, chunkOut, count);
  }
}

bool Engine::acquireBlock(std::int64_t block) {
  nextSlot_ = -1;
  if (block < 0) return true;  // pre-roll: silence, nothing to wait for
  const auto waitStart = std::chrono::steady_clock::now();
  for (;;) {
    // Read before scanning: if the worker had finished `block`, the scan below sees its slot.
    const bool workerDone = blocksFinished_.load(std::memory_order_acquire) > block;
    int slot = -1;
    while (readySlots_->peek(&slot, 1)) {
      const std::int64_t ready = slots_[slot].block;
      if (ready > block) break;  // the worker skipped `block`
      readySlots_->skip(1);
      if (ready == block) {
        nextSlot_ = slot;
        return true;
      }
      freeSlots_->push(slot);  // stale: its time has passed
    }
    // Only offline rendering may wait, and only for a block still to come; a real-time host gets
    // the dry signal instead.
    if (workerDone || !nonRealtime_.load(std::memory_order_relaxed) || !running_.load() ||
        std::chrono::steady_clock::now() - waitStart > kNonRealtimeWaitLimit)
      return false;
    wakeWorker_.notify();
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

void Engine::advanceBlockState(std::int64_t block, int offset) {
  if (block != currentBlock_) {
    if (!nextDecided_) nextOk_ = acquireBlock(block);
    if (currentSlot_ >= 0) freeSlots_->push(currentSlot_);
    previousOk_ = currentOk_;
    currentOk_ = nextOk_;
    currentSlot_ = nextSlot_;
    nextSlot_ = -1;
    nextDecided_ = false;
    currentBlock_ = block;
    if (block >= 0) ++(currentOk_ ? blocksPlayed_ : blocksMissed_);
  }
  if (!nextDecided_ && offset >= blockFrames_ - fadeFrames_) {
    nextOk_ = acquireBlock(block + 1);
    nextDecided_ = true;
  }
}

float Engine::wetAvailability(int offset) const {
  // 1 = generated audio, 0 = dry fallback. Fades use only audio we have: the head of the first
  // block after a miss, and the tail of the last block before one (decided fadeFrames_ early).
  if (!currentOk_) return 0.0f;
  float gain = 1.0f;
  const float fade = static_cast<float>(fadeFrames_);
  if (!previousOk_ && offset < fadeFrames_) gain = std::min(gain, static_cast<float>(offset) / fade);
  if (nextDecided_ && !nextOk_) gain = std::min(gain, static_cast<float>(blockFrames_ - 1 - offset) / fade);
  return std::max(0.0f, gain);
}

void Engine::processChunk(const float* const* input, float* const* output, int frames) {
  mix_.setTarget(mixTarget_.load(std::memory_order_relaxed));
  feedback_.setTarget(feedbackTarget_.load(std::memory_order_relaxed));
  bypass_.setTarget(bypassTarget_.load(std::memory_order_relaxed) ? 1.0f : 0.0f);
  wetGain_.setTarget(wetGainTarget());
  const std::int64_t writtenBefore = framesProcessed_;

  for (int i = 0; i < frames; ++i, ++framesProcessed_) {
    const std::int64_t wetFrame = framesProcessed_ - latency_;  // the schedule's frame
    const std::int64_t dryFrame = wetFrame - processorDelay_;   // the input frame the wet now carries
    const std::int64_t block = floorDiv(wetFrame, blockFrames_);
    const int offset = static_cast<int>(wetFrame - block * blockFrames_);
    advanceBlockState(block, offset);
    const float availability = wetAvailability(offset);
    const float mix = mix_.next(), feedback = feedback_.next(), bypass = bypass_.next(), wetGain = wetGain_.next();
    const std::size_t dryWrite = static_cast<std::size_t>(framesProcessed_ % dryLineFrames_);
    const std::size_t dryRead = static_cast<std::size_t>(dryFrame >= 0 ? dryFrame % dryLineFrames_ : 0);
    const float* slot = currentSlot_ >= 0 ? slots_[currentSlot_].samples.data() : nullptr;

    for (int c = 0; c < channels_; ++c) {
      float x = input[c][i];
      if (!std::isfinite(x)) x = 0.0f;  // NaN/Inf from the host must not reach the worker or the output
      float* line = dryLine_.data() + static_cast<std::size_t>(c) * dryLineFrames_;
      const float dry = dryFrame >= 0 ? line[dryRead] : 0.0f;
      // Before the reported latency the model's audio is only its decoder's ramp-in: nothing is due yet.
      const float generated = slot && dryFrame >= 0 ? slot[static_cast<std::size_t>(c) * blockFrames_ + offset] : 0.0f;
      const float wet = availability * generated + (1.0f - availability) * dry;
      // The wet gain scales what the model made, not the dry stand-in of a missed block nor the feedback.
      const float heard = availability * wetGain * generated + (1.0f - availability) * dry;
      line[dryWrite] = x;
      send_[static_cast<std::size_t>(c) * maxBlockSize_ + i] = x + (1.0f - bypass) * feedback * wet;
      output[c][i] = (1.0f - bypass) * ((1.0f - mix) * dry + mix * heard) + bypass * dry;
    }
  }

  history_->write(sendPtrs_.data(), frames);
  if (writtenBefore / blockFrames_ != framesProcessed_ / blockFrames_) wakeWorker_.notify();
}

}  // namespace lmdm

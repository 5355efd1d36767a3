// The LMDM streamed through a model package at the model's sample rate: one block of input audio in,
// one block of generated audio out. The C++ twin of lmdm.streaming.live.LiveDelay (same graphs, controls,
// noise and update rule, so the same output), and the worker-side core of LmdmProcessor.
//
// Per block: features over [previous block, this block] -> the block's controls (those that follow
// the input, median-smoothed); S steps of the denoiser over the KV cache (Euler, or ping-pong for
// ARC-Forcing's few-step models: the package's stream.solver) with classifier-free guidance (rows: conditional, unconditional); the new block into the cache (blockcausal: appended,
// the ring sliding; encdec: the last C latents re-encoded next block); the VAE decoder, its state
// carried. Not real-time safe: it runs on the worker thread.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lmdm/GaussianNoise.h"
#include "lmdm/KvRing.h"
#include "lmdm/ModelPackage.h"
#include "lmdm/OnnxGraph.h"
#include "lmdm/StepBudget.h"

namespace lmdm {

struct GenerationSettings {
  int steps = 0;            // <= 0: the package's default
  float guidance = 0.0f;    // <= 0: the package's default
  std::array<bool, ModelPackage::kControls> follow{true, true, true};  // loudness, brightness, pitch
  int smoothing = 1;        // median width in control frames (made odd)
};

class LmdmModel {
 public:
  /** Input beyond +-16 (+24 dBFS) is clipped there: no musical signal, but it must not overflow the features. */
  static constexpr float kMaxInputAmplitude = 16.0f;

  /** Creates and checks the sessions (PackageError on a mismatch); allocates every buffer. */
  LmdmModel(std::shared_ptr<const ModelPackage> package, const SessionSettings& session);

  const ModelPackage& package() const { return *package_; }
  int blockSamples() const { return package_->blockSamples(); }
  const std::string& provider() const { return denoiser_.provider(); }
  const std::string& providerNote() const { return denoiser_.providerNote(); }

  /** Starts a new stream: start context, empty cache, input history zero, noise from `seed`. The VAE
      decoder's state is zeroed too, unless `keepDecoderState`: then the new stream's audio continues
      the old one's last samples (its overlap-add tail) instead of jumping to a fresh start — no click
      when the seed changes mid-performance. */
  void restart(std::uint64_t seed, bool keepDecoderState = false);
  /** Takes effect at the next block. */
  void setSettings(const GenerationSettings& settings);
  /** textDim numbers (copied), or nullptr for no prompt. */
  void setPrompt(const float* embedding);

  using Clock = std::chrono::steady_clock;

  /** blockSamples() samples in and out at the package's sample rate. Non-finite input reads as 0.
      With a `deadline`, the denoiser stops early when one more step and the rest of the block (cache
      update, decoder), plus the margin by which recent blocks overran such a forecast, would not end
      before it (StepBudget): the block ends on the clean prediction of the last step run (at least
      one), as a sampler with fewer steps would. */
  void process(const float* input, float* output, Clock::time_point deadline = Clock::time_point::max());
  /** Denoiser steps the latest block ran, and the steps it was asked for. */
  int lastStepsRun() const { return lastStepsRun_; }
  int stepsAsked() const { return static_cast<int>(grid_.size()) - 1; }

  /** The latest block's latents (blockFrames x latentDim, normalised), for parity checks. */
  const std::vector<float>& lastLatents() const { return latents_; }
  /** The latest block's controls (blockFrames x 3 values, then presence), as the DiT read them. */
  const std::vector<float>& lastControls() const { return controls_; }

 private:
  static constexpr int kBatch = 2;  // classifier-free guidance: conditional, unconditional

  /** Rows the denoiser and the encoder run. At guidance 1, CFG's u + 1 x (c - u) is the conditional row
      alone, so the unconditional one is skipped, in the encoder too (as lmdm.streaming.onnx_streamer):
      the cache's unconditional row then takes the conditional keys, so a later switch to guidance above
      1 goes on from the same context and guides fully once the context has turned over (C frames). */
  int guidedRows() const { return guidance_ == 1.0f ? 1 : kBatch; }
  /** Copies the cache's row 0 into conditionalKeys_/Values_ (the layout puts the batch inside each
      layer) unless it is there since the last append. */
  void copyConditionalRow();
  void prepareGrid(int steps);
  void computeControls(const float* input);
  void encode(const float* latents, const float* values, const float* present, int frames, std::int64_t first);
  void denoise(Clock::time_point deadline);
  void decode(float* output);
  std::vector<Ort::Value> sharedInputs(const float* values, const float* present, int frames, std::int64_t first,
                                       int rows);

  std::shared_ptr<const ModelPackage> package_;
  OnnxGraph features_, decoder_, timestep_, encoder_, denoiser_;
  GenerationSettings settings_;
  float guidance_ = 1.0f;
  std::vector<double> grid_;
  std::vector<std::vector<float>> modulations_, outModulations_;  // per grid time
  std::vector<std::vector<float>> conditionalModulations_;          // per grid time, row 0 only
  std::vector<float> encoderModulations_, conditionalEncoderModulations_;  // t = 0; both rows, row 0
  std::vector<std::int64_t> modulationShape_, outModulationShape_;
  GaussianNoise noise_;
  KvRing cache_;
  std::int64_t position_ = 0;
  StepBudget budget_;  // whether a block with a deadline affords one more step
  int lastStepsRun_ = 0;

  // Work buffers, sized once.
  std::vector<float> text_, useText_, history_, window_, positions_;
  std::vector<float> values_, present_, controls_;   // this block's controls (B x 3 each); controls_ = both
  std::vector<float> frameValues_, framePresent_, medianScratch_, medianWindow_;  // the feature window's frames
  std::vector<float> contextLatents_, contextValues_, contextPresent_;  // encdec: the last C frames
  std::vector<float> batchedLatents_, batchedValues_, batchedPresent_;
  std::vector<float> conditionalKeys_, conditionalValues_;  // row 0 of cache_, for one-row graphs
  bool conditionalRowCopied_ = false;                       // ... and whether it is current
  std::vector<float> latents_, freshNoise_, decoderInput_;
  std::vector<std::vector<float>> decoderState_;
  std::vector<std::vector<std::int64_t>> decoderStateShapes_;
  std::vector<std::string> decoderStateNames_;
};

}  // namespace lmdm

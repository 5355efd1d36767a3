// The generative delay as the engine's BlockProcessor: host audio -> LmdmModel -> host audio.
//
// Per block of N host frames: mix the channels to mono, resample N -> M model samples, apply the
// user's parameters (prompt A/B and morph, guidance, steps, which controls follow the input and how
// smoothly, seed, freeze, continue), run the model, resample M -> N, write every channel. N is the
// model's block at the host rate, rounded (BlockResampler). A package that fails to load or a model
// that throws leaves the processor passing the input through (the engine then plays the dry signal)
// with the reason in status(); the host never sees an exception.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lmdm/BlockProcessor.h"
#include "lmdm/BlockResampler.h"
#include "lmdm/LmdmModel.h"

namespace lmdm {

class LmdmProcessor : public BlockProcessor {
 public:
  /** Loads and checks the package (allocates, does I/O); never throws: see status(). Asked for an
      accelerator, it loads the package's GPU twin (gpuTwinFolder: float16) where there is one, and the
      package itself on the CPU if the accelerator does not start (name() says which runs). */
  LmdmProcessor(const std::string& packageFolder, const SessionSettings& session);

  int prepare(double sampleRate, int channels) override;
  void process(const BlockIO& io) override;
  std::string name() const override;
  /** The VAE decoder's delay and the two resamplers', in host frames (BlockProcessor::delayFrames). */
  int delayFrames() const override { return delayFrames_; }
  /** Half a block with a model (kHeadroomShare); a whole one when it only passes audio through. */
  double headroomShare() const override { return model_ ? kHeadroomShare : 1.0; }
  std::int64_t blocksShortened() const override { return blocksShortened_.load(std::memory_order_relaxed); }

  /** The worker's time per block, as a share of the block: the issue-18 budget (p99 <= 50 %). At the
      default steps the chain takes well under it (docs/plugin.md "Delay"); above it, as with many
      Steps on a slow machine, blocks end with fewer steps (blocksShortened) instead of missing. */
  static constexpr double kHeadroomShare = 0.5;

  bool ready() const { return model_ != nullptr && !failed_.load(); }
  /** Any thread: "" when generating, else why the plugin passes audio through. */
  std::string status() const;
  const LmdmModel* model() const { return model_.get(); }

 private:
  void loadModel(const std::string& folder, const SessionSettings& session);
  void apply(const ParameterValues& values);
  void fail(const std::string& reason);
  void passThrough(const BlockIO& io);

  std::unique_ptr<LmdmModel> model_;
  std::string packageName_;
  std::unique_ptr<BlockResampler> toModel_, toHost_;
  int hostBlock_ = 0;
  int delayFrames_ = 0;
  std::vector<float> passTail_;  // planar, delayFrames_ per channel: the input a pass-through still owes
  std::vector<float> hostMono_, modelInput_, modelOutput_, hostOutput_, prompt_, heldInput_;
  ParameterValues applied_;
  bool firstBlock_ = true;
  std::atomic<bool> failed_{false};
  std::atomic<std::int64_t> blocksShortened_{0};
  mutable std::mutex statusMutex_;  // status text only; never taken on the audio thread
  std::string status_;
};

}  // namespace lmdm

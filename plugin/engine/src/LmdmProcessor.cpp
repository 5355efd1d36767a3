#include "lmdm/LmdmProcessor.h"

#include <algorithm>
#include <cmath>

#include "lmdm/OrtRuntime.h"

namespace lmdm {
namespace {

// Between two unit-length prompt embeddings, back on the unit sphere (lmdm.streaming.live.morph_prompts).
void morph(const std::vector<float>& a, const std::vector<float>& b, float amount, std::vector<float>& out) {
  double norm = 0.0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = (1.0f - amount) * a[i] + amount * b[i];
    norm += static_cast<double>(out[i]) * out[i];
  }
  if (norm <= 1e-12) {
    out = a;
    return;
  }
  const float scale = static_cast<float>(1.0 / std::sqrt(norm));
  for (auto& x : out) x *= scale;
}

}  // namespace

LmdmProcessor::LmdmProcessor(const std::string& packageFolder, const SessionSettings& session) {
  try {
    OrtRuntime::load(OrtRuntime::bundledLibraryPath());
    SessionSettings chosen = session;
    std::string note;
    const std::string twin = session.executionProvider == "cpu" ? std::string() : gpuTwinFolder(packageFolder);
    if (!twin.empty()) {
      try {
        loadModel(twin, session);
      } catch (const std::exception& error) {
        note = "GPU package " + twin + " not loaded (" + error.what() + "); ";
      }
      if (model_ && model_->provider() == "cpu") {  // the accelerator did not start: a CPU runs int8 faster
        note = model_->providerNote();
        model_.reset();
        chosen.executionProvider = "cpu";
      }
    }
    if (!model_) loadModel(packageFolder, chosen);
    note += model_->providerNote();
    if (!note.empty()) status_ = note;
  } catch (const std::exception& error) {
    model_.reset();
    status_ = std::string("model not loaded, passing audio through: ") + error.what();
  }
}

void LmdmProcessor::loadModel(const std::string& folder, const SessionSettings& session) {
  auto package = std::make_shared<const ModelPackage>(ModelPackage::load(folder));
  model_ = std::make_unique<LmdmModel>(package, session);
  packageName_ = package->name;
  prompt_.assign(static_cast<std::size_t>(package->textDim), 0.0f);
}

std::string LmdmProcessor::status() const {
  std::lock_guard<std::mutex> lock(statusMutex_);
  return status_;
}

std::string LmdmProcessor::name() const { return model_ ? "LMDM " + packageName_ : "LMDM (no model)"; }

void LmdmProcessor::fail(const std::string& reason) {
  failed_.store(true);
  std::lock_guard<std::mutex> lock(statusMutex_);
  status_ = "model stopped, passing audio through: " + reason;
}

int LmdmProcessor::prepare(double sampleRate, int channels) {
  const int modelBlock = model_ ? model_->blockSamples() : 8192;
  const double modelRate = model_ ? model_->package().sampleRate : 22050.0;
  hostBlock_ = std::max(1, static_cast<int>(std::lround(modelBlock * sampleRate / modelRate)));
  delayFrames_ = 0;
  if (!model_) return hostBlock_;
  toModel_ = std::make_unique<BlockResampler>(hostBlock_, modelBlock);
  toHost_ = std::make_unique<BlockResampler>(modelBlock, hostBlock_);
  // Model-rate delays (the resampler in, the VAE decoder's overlap-add) at the host rate, then the resampler out.
  const double modelDelay = toModel_->delayFrames() + model_->package().decoderDelaySamples;
  delayFrames_ = std::min(hostBlock_, static_cast<int>(std::lround(modelDelay * hostBlock_ / modelBlock)) +
                                         toHost_->delayFrames());
  passTail_.assign(static_cast<std::size_t>(channels) * delayFrames_, 0.0f);
  hostMono_.assign(static_cast<std::size_t>(hostBlock_), 0.0f);
  hostOutput_.assign(hostMono_.size(), 0.0f);
  modelInput_.assign(static_cast<std::size_t>(modelBlock), 0.0f);
  heldInput_.assign(modelInput_.size(), 0.0f);
  modelOutput_.assign(modelInput_.size(), 0.0f);
  firstBlock_ = true;
  return hostBlock_;
}

void LmdmProcessor::apply(const ParameterValues& values) {
  const bool first = firstBlock_;
  firstBlock_ = false;
  const bool continueMode = values.on(ParameterId::Continue);
  GenerationSettings settings;
  settings.steps = static_cast<int>(values[ParameterId::Steps]);
  settings.guidance = values[ParameterId::Guidance];
  settings.follow = {values.on(ParameterId::FollowLoudness) && !continueMode,
                     values.on(ParameterId::FollowBrightness) && !continueMode,
                     values.on(ParameterId::FollowPitch) && !continueMode};
  settings.smoothing = static_cast<int>(values[ParameterId::Smoothing]);
  model_->setSettings(settings);
  if (first || values[ParameterId::Seed] != applied_[ParameterId::Seed])
    model_->restart(static_cast<std::uint64_t>(values[ParameterId::Seed]), /*keepDecoderState=*/!first);
  const auto& prompts = model_->package().prompts;
  const auto slot = [&](ParameterId id) {
    return std::clamp(static_cast<int>(values[id]), 0, static_cast<int>(prompts.size()) - 1);
  };
  morph(prompts[slot(ParameterId::PromptA)].embedding, prompts[slot(ParameterId::PromptB)].embedding,
        values[ParameterId::Morph], prompt_);
  model_->setPrompt(prompt_.data());
  applied_ = values;
}

void LmdmProcessor::process(const BlockIO& io) {
  const std::size_t frames = static_cast<std::size_t>(io.frames);
  if (!ready()) {
    passThrough(io);
    return;
  }
  const ParameterValues values = io.parameters ? *io.parameters : ParameterValues{};
  std::fill(hostMono_.begin(), hostMono_.end(), 0.0f);
  for (int c = 0; c < io.channels; ++c)
    for (std::size_t i = 0; i < frames; ++i) hostMono_[i] += io.input[c][i] / static_cast<float>(io.channels);
  try {
    apply(values);
    toModel_->process(hostMono_.data(), modelInput_.data());
    // Freeze holds the last input heard before it was switched on, so its controls are held too.
    if (!values.on(ParameterId::Freeze)) heldInput_ = modelInput_;
    model_->process(heldInput_.data(), modelOutput_.data(), io.deadline);
    if (model_->lastStepsRun() < model_->stepsAsked()) blocksShortened_.fetch_add(1, std::memory_order_relaxed);
    toHost_->process(modelOutput_.data(), hostOutput_.data());
  } catch (const std::exception& error) {
    fail(error.what());
    passThrough(io);
    return;
  }
  for (int c = 0; c < io.channels; ++c) {
    std::copy_n(hostOutput_.begin(), frames, io.output[c]);
    std::copy_n(io.input[c] + frames - delayFrames_, delayFrames_, passTail_.begin() + c * delayFrames_);
  }
}

void LmdmProcessor::passThrough(const BlockIO& io) {
  // The input delayed by delayFrames_, as the model's audio would be: the engine's wet signal then
  // equals its delayed dry signal, also after a model fails in mid-stream.
  const int d = delayFrames_;  // passTail_ holds d frames per channel (prepare); 0 without a model
  for (int c = 0; c < io.channels; ++c) {
    float* tail = passTail_.data() + static_cast<std::size_t>(c) * d;
    std::copy_n(tail, d, io.output[c]);
    std::copy_n(io.input[c], io.frames - d, io.output[c] + d);
    std::copy_n(io.input[c] + io.frames - d, d, tail);
  }
}

}  // namespace lmdm

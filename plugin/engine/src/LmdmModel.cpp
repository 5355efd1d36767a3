#include "lmdm/LmdmModel.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace lmdm {
namespace {

using NamedValue = std::pair<const char*, Ort::Value>;

// The features graph's columns per frame (lmdm.conditioning.controls.CONTROL_NAMES): the three controls, then the
// pitch confidence that decides whether the pitch control is present in that frame.
constexpr int kFeatureColumns = 4;
constexpr int kPitchControl = 2;
constexpr int kPitchConfidenceColumn = 3;

// The graph's inputs in its manifest order, whatever order the caller wrote them in.
std::vector<Ort::Value> ordered(const GraphSpec& spec, std::vector<NamedValue>& named) {
  std::vector<Ort::Value> inputs;
  for (const auto& input : spec.inputs) {
    const auto found = std::find_if(named.begin(), named.end(), [&](const NamedValue& v) { return input.name == v.first; });
    if (found == named.end()) throw PackageError(spec.file + " wants an input '" + input.name + "' this host does not have");
    inputs.push_back(std::move(found->second));
  }
  return inputs;
}

std::size_t outputIndex(const GraphSpec& spec, const std::string& name) {
  for (std::size_t i = 0; i < spec.outputs.size(); ++i)
    if (spec.outputs[i].name == name) return i;
  throw PackageError(spec.file + " has no output '" + name + "'");
}

const float* data(const Ort::Value& value) { return value.GetTensorData<float>(); }

std::size_t elementCount(const Ort::Value& value) { return value.GetTensorTypeAndShapeInfo().GetElementCount(); }

// Median over `width` frames (odd), edges replicated: lmdm.conditioning.sketch.median_smooth on one control.
// `scratch` and `window` are the caller's buffers, resized here only when they are too small.
void medianSmooth(std::vector<float>& frames, int count, int stride, int channel, int width, std::vector<float>& scratch,
                  std::vector<float>& window) {
  if (width <= 1) return;
  const int half = width / 2;
  scratch.resize(std::max(scratch.size(), static_cast<std::size_t>(count)));
  window.resize(static_cast<std::size_t>(width));
  for (int f = 0; f < count; ++f) {
    for (int k = 0; k < width; ++k) {
      const int source = std::clamp(f - half + k, 0, count - 1);
      window[k] = frames[static_cast<std::size_t>(source) * stride + channel];
    }
    std::nth_element(window.begin(), window.begin() + half, window.end());
    scratch[f] = window[half];
  }
  for (int f = 0; f < count; ++f) frames[static_cast<std::size_t>(f) * stride + channel] = scratch[f];
}

}  // namespace

LmdmModel::LmdmModel(std::shared_ptr<const ModelPackage> package, const SessionSettings& session)
    : package_(std::move(package)),
      features_(*package_, "features", session),
      decoder_(*package_, "vae_decoder", session),
      timestep_(*package_, "timestep", session),
      encoder_(*package_, "context_encoder", session),
      denoiser_(*package_, "denoiser", session),
      cache_(package_->layers, kBatch, package_->heads, package_->contextFrames, package_->headDim) {
  const ModelPackage& p = *package_;
  const std::size_t C = p.contextFrames, B = p.blockFrames, D = p.latentDim, M = p.blockSamples();
  constexpr std::size_t K = ModelPackage::kControls;
  text_.assign(kBatch * static_cast<std::size_t>(p.textDim), 0.0f);
  useText_.assign(kBatch, 0.0f);
  history_.assign(M, 0.0f);
  window_.assign(2 * M, 0.0f);
  positions_.assign(C, 0.0f);
  values_.assign(B * K, 0.0f);
  present_.assign(B * K, 0.0f);
  controls_.assign(2 * B * K, 0.0f);
  contextLatents_.assign(C * D, 0.0f);
  contextValues_.assign(C * K, 0.0f);
  contextPresent_.assign(C * K, 0.0f);
  batchedLatents_.assign(kBatch * C * D, 0.0f);
  batchedValues_.assign(kBatch * C * K, 0.0f);
  batchedPresent_.assign(kBatch * C * K, 0.0f);
  const auto cacheRow = static_cast<std::size_t>(p.layers) * p.heads * p.contextFrames * p.headDim;
  conditionalKeys_.assign(cacheRow, 0.0f);
  conditionalValues_.assign(cacheRow, 0.0f);
  latents_.assign(B * D, 0.0f);
  freshNoise_.assign(B * D, 0.0f);
  decoderInput_.assign(D * B, 0.0f);
  for (const auto& input : decoder_.spec().inputs) {
    if (input.name.rfind("state.", 0) != 0) continue;
    std::vector<std::int64_t> shape(input.shape.begin(), input.shape.end());
    shape[0] = 1;  // batch
    if (std::any_of(shape.begin(), shape.end(), [](std::int64_t d) { return d < 0; }))
      throw PackageError("vae_decoder.onnx state '" + input.name + "' needs fixed sizes besides the batch");
    std::size_t count = 1;
    for (auto d : shape) count *= static_cast<std::size_t>(d);
    decoderState_.emplace_back(count, 0.0f);
    decoderStateShapes_.push_back(std::move(shape));
    decoderStateNames_.push_back(input.name);
  }
  setSettings(GenerationSettings{});
  // One block of silence at load, on the loading thread: ONNX Runtime sizes its buffers on a graph's
  // first runs, and the deadline's budget learns what a step and the tail cost, so that the worker's
  // first block after a reload neither pays for the one nor runs blind on the other (the soak's one
  // miss beside a reload, docs/reliability.md). Then the stream starts over, as if nothing had run.
  std::vector<float> silence(M), discarded(M);
  process(silence.data(), discarded.data());
  restart(0);
}

void LmdmModel::setSettings(const GenerationSettings& settings) {
  settings_ = settings;
  settings_.smoothing = std::max(1, settings.smoothing | 1);
  guidance_ = settings.guidance <= 0.0f ? package_->defaultGuidance : settings.guidance;
  const int steps = settings.steps > 0 ? settings.steps : package_->defaultSteps;
  if (static_cast<int>(grid_.size()) != steps + 1) prepareGrid(steps);
}

void LmdmModel::prepareGrid(int steps) {
  const double shift = package_->timeShift;
  grid_.resize(static_cast<std::size_t>(steps) + 1);
  for (int i = 0; i <= steps; ++i) {
    const double t = 1.0 - static_cast<double>(i) / steps;
    grid_[i] = shift * t / (1.0 + (shift - 1.0) * t);
  }
  auto modulationsAt = [&](double t, std::vector<float>& modulations, std::vector<float>* outModulation) {
    std::vector<float> times(kBatch, static_cast<float>(t));
    std::vector<NamedValue> named;
    named.emplace_back("t", tensorView(times.data(), {kBatch}));
    auto outputs = timestep_.run(ordered(timestep_.spec(), named));
    const auto& m = outputs[outputIndex(timestep_.spec(), "modulations")];
    modulations.assign(data(m), data(m) + elementCount(m));
    modulationShape_ = m.GetTensorTypeAndShapeInfo().GetShape();
    if (outModulation) {
      const auto& o = outputs[outputIndex(timestep_.spec(), "out_modulation")];
      outModulation->assign(data(o), data(o) + elementCount(o));
      outModulationShape_ = o.GetTensorTypeAndShapeInfo().GetShape();
    }
  };
  // Grown, never shrunk: tables keep their memory when the Steps go back and forth (a host's
  // automation), so the worker does not allocate and free them at every change.
  if (modulations_.size() < grid_.size()) {
    modulations_.resize(grid_.size());
    outModulations_.resize(grid_.size());
    conditionalModulations_.resize(grid_.size());
  }
  // [layers, batch, width] -> [layers, 1, width]: row 0 of each layer
  auto firstRow = [&](const std::vector<float>& modulations, std::vector<float>& row) {
    const auto layers = static_cast<std::size_t>(modulationShape_[0]), width = static_cast<std::size_t>(modulationShape_[2]);
    row.resize(layers * width);
    for (std::size_t l = 0; l < layers; ++l)
      std::copy_n(modulations.begin() + static_cast<std::ptrdiff_t>(l * kBatch * width), width,
                  row.begin() + static_cast<std::ptrdiff_t>(l * width));
  };
  for (std::size_t i = 0; i < grid_.size(); ++i) {
    modulationsAt(grid_[i], modulations_[i], &outModulations_[i]);
    firstRow(modulations_[i], conditionalModulations_[i]);
  }
  modulationsAt(0.0, encoderModulations_, nullptr);  // context frames are clean: t = 0
  firstRow(encoderModulations_, conditionalEncoderModulations_);
}

void LmdmModel::setPrompt(const float* embedding) {
  const int dim = package_->textDim;
  std::fill(text_.begin(), text_.end(), 0.0f);
  useText_[0] = useText_[1] = 0.0f;  // row 1 stays unconditional
  if (embedding) {
    std::copy_n(embedding, dim, text_.begin());
    useText_[0] = 1.0f;
  }
}

void LmdmModel::restart(std::uint64_t seed, bool keepDecoderState) {
  const ModelPackage& p = *package_;
  noise_.reset(seed);
  cache_.reset();
  std::fill(history_.begin(), history_.end(), 0.0f);
  if (!keepDecoderState)
    for (auto& state : decoderState_) std::fill(state.begin(), state.end(), 0.0f);
  std::fill(contextValues_.begin(), contextValues_.end(), 0.0f);
  std::fill(contextPresent_.begin(), contextPresent_.end(), 0.0f);
  std::copy(p.startLatents.begin(), p.startLatents.end(), contextLatents_.begin());
  const int startFrames = static_cast<int>(p.startLatents.size()) / p.latentDim;  // C, or 0: from nothing
  if (p.variant == Variant::BlockCausal)  // block by block: each attends the blocks encoded before it
    for (int first = 0; first < startFrames; first += p.blockFrames) {
      const std::size_t frame = static_cast<std::size_t>(first);
      encode(contextLatents_.data() + frame * p.latentDim, contextValues_.data() + frame * ModelPackage::kControls,
             contextPresent_.data() + frame * ModelPackage::kControls, p.blockFrames, first);
    }
  position_ = p.contextFrames;
}

void LmdmModel::process(const float* input, float* output, Clock::time_point deadline) {
  computeControls(input);
  const ModelPackage& p = *package_;
  const int B = p.blockFrames, C = p.contextFrames;
  const std::size_t D = p.latentDim, K = ModelPackage::kControls;
  noise_.fill(latents_.data(), latents_.size());
  if (p.variant == Variant::EncDec) {
    cache_.reset();
    encode(contextLatents_.data(), contextValues_.data(), contextPresent_.data(), C, position_ - C);
  }
  budget_.beginBlock();
  denoise(deadline);
  const auto tailStart = Clock::now();
  if (p.variant == Variant::BlockCausal) {
    cache_.slide(std::max(0, cache_.length() + B - cache_.capacity()));
    encode(latents_.data(), values_.data(), present_.data(), B, position_);
  } else {  // keep the last C frames as the next block's context
    auto shiftIn = [&](std::vector<float>& context, const std::vector<float>& block, std::size_t width) {
      std::copy(context.begin() + static_cast<std::ptrdiff_t>(B * width), context.end(), context.begin());
      std::copy(block.begin(), block.end(), context.end() - static_cast<std::ptrdiff_t>(B * width));
    };
    shiftIn(contextLatents_, latents_, D);
    shiftIn(contextValues_, values_, K);
    shiftIn(contextPresent_, present_, K);
  }
  position_ += B;
  decode(output);
  budget_.endBlock(tailStart, Clock::now());
}

void LmdmModel::computeControls(const float* input) {
  const ModelPackage& p = *package_;
  const std::size_t M = p.blockSamples();
  constexpr int K = ModelPackage::kControls;
  std::copy(history_.begin(), history_.end(), window_.begin());
  // Non-finite samples become silence and absurd levels are bounded, so that no host signal can put
  // Inf/NaN into the features (squared 1e30 overflows) and from there into the model (lmdm.streaming.live does the same).
  for (std::size_t i = 0; i < M; ++i)
    window_[M + i] = std::isfinite(input[i]) ? std::clamp(input[i], -kMaxInputAmplitude, kMaxInputAmplitude) : 0.0f;
  std::copy(window_.begin() + static_cast<std::ptrdiff_t>(M), window_.end(), history_.begin());

  std::vector<NamedValue> named;
  named.emplace_back("audio", tensorView(window_.data(), {1, static_cast<std::int64_t>(window_.size())}));
  const auto outputs = features_.run(ordered(features_.spec(), named));
  const float* raw = data(outputs[0]);
  const int frames = static_cast<int>(outputs[0].GetTensorTypeAndShapeInfo().GetShape()[1]);
  std::vector<float>& values = frameValues_;
  std::vector<float>& present = framePresent_;
  values.resize(static_cast<std::size_t>(frames) * K);
  present.resize(values.size());
  for (int f = 0; f < frames; ++f)
    for (int c = 0; c < K; ++c) {
      const std::size_t i = static_cast<std::size_t>(f) * K + c;
      const float* feature = raw + static_cast<std::ptrdiff_t>(f) * kFeatureColumns;
      const float value = (feature[c] - p.controlMean[c]) / p.controlStd[c];
      present[i] = c == kPitchControl ? (feature[kPitchConfidenceColumn] >= p.voicedThreshold ? 1.0f : 0.0f) : 1.0f;
      values[i] = value * present[i];
    }
  for (int c = 0; c < K; ++c) {
    medianSmooth(values, frames, K, c, settings_.smoothing, medianScratch_, medianWindow_);
    medianSmooth(present, frames, K, c, settings_.smoothing, medianScratch_, medianWindow_);
  }
  const int first = static_cast<int>(M) / p.hop;
  for (int f = 0; f < p.blockFrames; ++f)
    for (int c = 0; c < K; ++c) {
      const std::size_t from = static_cast<std::size_t>(first + f) * K + c, to = static_cast<std::size_t>(f) * K + c;
      const float follow = settings_.follow[c] ? 1.0f : 0.0f;
      values_[to] = values[from] * present[from] * follow;
      present_[to] = present[from] * follow;
    }
  std::copy(values_.begin(), values_.end(), controls_.begin());
  std::copy(present_.begin(), present_.end(), controls_.begin() + static_cast<std::ptrdiff_t>(values_.size()));
}

std::vector<Ort::Value> LmdmModel::sharedInputs(const float* values, const float* present, int frames, std::int64_t first,
                                                int rows) {
  constexpr std::size_t K = ModelPackage::kControls;
  const std::size_t n = static_cast<std::size_t>(frames);
  for (int b = 0; b < rows; ++b) {
    const auto row = static_cast<std::ptrdiff_t>(b * n * K);
    if (b == 1 && package_->guidanceDropsControls) {  // the unconditional row: controls absent
      std::fill_n(batchedValues_.begin() + row, n * K, 0.0f);
      std::fill_n(batchedPresent_.begin() + row, n * K, 0.0f);
      continue;
    }
    std::copy_n(values, n * K, batchedValues_.begin() + row);
    std::copy_n(present, n * K, batchedPresent_.begin() + row);
  }
  for (std::size_t i = 0; i < n; ++i) positions_[i] = static_cast<float>(first + static_cast<std::int64_t>(i));
  const std::int64_t f = frames, capacity = cache_.capacity();
  std::vector<Ort::Value> shared;
  shared.push_back(tensorView(batchedValues_.data(), {rows, f, static_cast<std::int64_t>(K)}));
  shared.push_back(tensorView(batchedPresent_.data(), {rows, f, static_cast<std::int64_t>(K)}));
  shared.push_back(tensorView(positions_.data(), {f}));
  shared.push_back(tensorView(text_.data(), {rows, package_->textDim}));  // row 0 first: the conditional one
  shared.push_back(tensorView(useText_.data(), {rows}));
  if (rows == kBatch) {
    shared.push_back(tensorView(cache_.keys(), cache_.shape()));
    shared.push_back(tensorView(cache_.values(), cache_.shape()));
  } else {  // row 0 of the cache, copied out by copyConditionalRow()
    auto shape = cache_.shape();
    shape[1] = rows;
    shared.push_back(tensorView(conditionalKeys_.data(), shape));
    shared.push_back(tensorView(conditionalValues_.data(), shape));
  }
  shared.push_back(tensorView(cache_.valid(), {capacity}));
  return shared;
}

namespace {
const char* const kSharedNames[] = {"control_values", "control_present", "positions", "text", "use_text",
                                    "cache_keys", "cache_values", "cache_valid"};
}

void LmdmModel::encode(const float* latents, const float* values, const float* present, int frames, std::int64_t first) {
  const int rows = guidedRows();
  if (rows == 1) copyConditionalRow();
  const std::size_t n = static_cast<std::size_t>(frames) * package_->latentDim;
  for (int b = 0; b < rows; ++b) std::copy_n(latents, n, batchedLatents_.begin() + static_cast<std::ptrdiff_t>(b * n));
  std::vector<NamedValue> named;
  named.emplace_back("latents", tensorView(batchedLatents_.data(), {rows, frames, package_->latentDim}));
  auto shared = sharedInputs(values, present, frames, first, rows);
  for (std::size_t i = 0; i < shared.size(); ++i) named.emplace_back(kSharedNames[i], std::move(shared[i]));
  auto modulationShape = modulationShape_;
  modulationShape[1] = rows;
  named.emplace_back("modulations", tensorView(rows == kBatch ? encoderModulations_.data()
                                                              : conditionalEncoderModulations_.data(), modulationShape));
  const auto outputs = encoder_.run(ordered(encoder_.spec(), named));
  cache_.append(data(outputs[outputIndex(encoder_.spec(), "new_keys")]),
                data(outputs[outputIndex(encoder_.spec(), "new_values")]), frames, rows);
  conditionalRowCopied_ = false;
}

void LmdmModel::copyConditionalRow() {
  // An empty cache is all invalid: the graphs read none of it (an encdec block re-encodes from empty).
  if (conditionalRowCopied_ || cache_.length() == 0) return;
  const auto shape = cache_.shape();
  const auto layers = static_cast<std::size_t>(shape[0]), row = static_cast<std::size_t>(shape[2] * shape[3] * shape[4]);
  for (std::size_t l = 0; l < layers; ++l) {
    std::copy_n(cache_.keys() + l * kBatch * row, row, conditionalKeys_.begin() + static_cast<std::ptrdiff_t>(l * row));
    std::copy_n(cache_.values() + l * kBatch * row, row, conditionalValues_.begin() + static_cast<std::ptrdiff_t>(l * row));
  }
  conditionalRowCopied_ = true;
}

void LmdmModel::denoise(Clock::time_point deadline) {
  const int B = package_->blockFrames;
  const std::size_t n = latents_.size();
  const int rows = guidedRows();
  if (rows == 1) copyConditionalRow();  // once per block: the denoiser only reads the cache
  auto modulationShape = modulationShape_, outModulationShape = outModulationShape_;
  modulationShape[1] = outModulationShape[0] = rows;
  lastStepsRun_ = 0;
  for (std::size_t step = 0; step + 1 < grid_.size(); ++step) {
    const auto stepStart = Clock::now();
    for (int b = 0; b < rows; ++b) std::copy(latents_.begin(), latents_.end(), batchedLatents_.begin() + static_cast<std::ptrdiff_t>(b * n));
    std::vector<NamedValue> named;
    named.emplace_back("noisy", tensorView(batchedLatents_.data(), {rows, B, package_->latentDim}));
    auto shared = sharedInputs(values_.data(), present_.data(), B, position_, rows);
    for (std::size_t i = 0; i < shared.size(); ++i) named.emplace_back(kSharedNames[i], std::move(shared[i]));
    auto& modulations = rows == kBatch ? modulations_[step] : conditionalModulations_[step];
    named.emplace_back("modulations", tensorView(modulations.data(), modulationShape));
    // out_modulation is [batch, width]: row 0 is its first `width` numbers
    named.emplace_back("out_modulation", tensorView(outModulations_[step].data(), outModulationShape));
    const auto outputs = denoiser_.run(ordered(denoiser_.spec(), named));
    const float* v = data(outputs[outputIndex(denoiser_.spec(), "velocity")]);
    ++lastStepsRun_;
    const auto now = Clock::now();
    budget_.stepTook(now - stepStart);
    // Out of time: end on this step's clean prediction, the update of a last step (next = 0).
    const bool early = step + 2 < grid_.size() && deadline != Clock::time_point::max() &&
                       !budget_.oneMoreStepFits(now, deadline);
    const float dt = static_cast<float>(grid_[step + 1] - grid_[step]);
    const float t = static_cast<float>(grid_[step]), next = early ? 0.0f : static_cast<float>(grid_[step + 1]);
    const bool renoise = package_->solver == Solver::PingPong && next > 0.0f;
    if (renoise) noise_.fill(freshNoise_.data(), n);  // drawn after the block's own noise, as lmdm.dit.flow.solve
    for (std::size_t i = 0; i < n; ++i) {
      const float velocity = rows == 1 ? v[i] : v[n + i] + guidance_ * (v[i] - v[n + i]);  // row 0 conditional
      if (package_->solver == Solver::Euler && !early) {
        latents_[i] = latents_[i] + dt * velocity;
      } else {
        const float clean = latents_[i] - t * velocity;
        latents_[i] = renoise ? (1.0f - next) * clean + next * freshNoise_[i] : clean;
      }
    }
    if (early) return;
  }
}

void LmdmModel::decode(float* output) {
  const ModelPackage& p = *package_;
  const int B = p.blockFrames, D = p.latentDim;
  for (int f = 0; f < B; ++f)
    for (int d = 0; d < D; ++d) decoderInput_[d * B + f] = latents_[f * D + d] * p.latentStd[d] + p.latentMean[d];
  std::vector<NamedValue> named;
  named.emplace_back("latents", tensorView(decoderInput_.data(), {1, D, B}));
  std::size_t s = 0;
  for (const auto& input : decoder_.spec().inputs)
    if (input.name.rfind("state.", 0) == 0) {
      named.emplace_back(input.name.c_str(), tensorView(decoderState_[s].data(), decoderStateShapes_[s]));
      ++s;
    }
  const auto outputs = decoder_.run(ordered(decoder_.spec(), named));
  for (std::size_t i = 0; i < decoder_.spec().outputs.size(); ++i) {
    const auto& name = decoder_.spec().outputs[i].name;
    if (name == "audio") std::copy_n(data(outputs[i]), p.blockSamples(), output);
    if (name.rfind("next_state.", 0) != 0) continue;
    const auto state = std::find(decoderStateNames_.begin(), decoderStateNames_.end(), name.substr(5));
    if (state == decoderStateNames_.end() || elementCount(outputs[i]) != decoderState_[state - decoderStateNames_.begin()].size())
      throw PackageError("vae_decoder.onnx output '" + name + "' has no matching state input of its size");
    std::copy_n(data(outputs[i]), elementCount(outputs[i]), decoderState_[state - decoderStateNames_.begin()].begin());
  }
}

}  // namespace lmdm

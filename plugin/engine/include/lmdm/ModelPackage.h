// A model package on disk (docs/model-package.md), read and checked before anything runs.
//
// load() parses manifest.json, refuses schema versions it does not know, checks that every file
// the manifest names exists and has its sha256, and reads the numbers a host needs. Graph shapes are
// checked against the manifest when the sessions are created (LmdmModel). Every failure is a
// PackageError whose message says which file or field is wrong and what was expected.
#pragma once

#include <array>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace lmdm {

class PackageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/** One input or output of a graph as the manifest states it; dynamic axes are -1. */
struct TensorSpec {
  std::string name;
  std::string dtype;
  std::vector<long long> shape;
};

struct GraphSpec {
  std::string file;
  std::vector<TensorSpec> inputs, outputs;
};

/** The golden fixtures the exporter wrote (manifest "fixtures"): folder, graphs, tolerance per graph. */
struct FixtureSpec {
  std::string folder;
  std::map<std::string, double> tolerance;  // graph name -> max |error| / max(1, |expected|)
};

struct PromptPreset {
  std::string name, text;
  std::vector<float> embedding;
};

/** The DiT variants a host streams (python: lmdm.dit.variants.Variant, whose `routed` ones these are).
    EncDec re-encodes its whole context every block; BlockCausal encodes only the new block and may
    start from an empty cache. */
enum class Variant { EncDec, BlockCausal };

/** How a block is sampled from the denoiser's velocities (manifest stream.solver; python: lmdm.dit.flow.solve).
    Euler integrates the flow; PingPong (ARC-Forcing's few-step models) predicts the clean block at each
    time of the grid and re-noises it to the next time with fresh noise. */
enum class Solver { Euler, PingPong };

struct ModelPackage {
  static constexpr int kSchemaVersion = 1;
  static constexpr int kControls = 3;  // loudness, brightness, pitch

  std::string folder, name;
  Variant variant = Variant::BlockCausal;
  int sampleRate = 0, hop = 0, latentDim = 0;
  int decoderDelaySamples = 0;  // the streaming VAE decoder's audio lags its latents by this much (overlap-add)
  int contextFrames = 0, blockFrames = 0, defaultSteps = 0;
  float defaultGuidance = 1.0f;
  bool guidanceDropsControls = false;  // CFG's unconditional row lacks the controls too, not only the prompt
                                       // (manifest stream.unconditional_drops; absent in the first packages)
  double timeShift = 1.0;
  Solver solver = Solver::Euler;
  std::vector<float> latentMean, latentStd;
  std::vector<float> startLatents;  // contextFrames x latentDim, normalised; empty: a blockcausal stream
                                    // starts from nothing (the first block sees only controls and prompt)
  int layers = 0, heads = 0, headDim = 0, textDim = 0;
  std::array<float, kControls> controlMean{}, controlStd{};
  float voicedThreshold = 0.5f;
  std::map<std::string, GraphSpec> graphs;
  std::vector<PromptPreset> prompts;
  FixtureSpec fixtures;  // empty when the package has none

  /** Reads and checks the package in `folder`; throws PackageError. Allocates, does I/O. */
  static ModelPackage load(const std::string& folder);

  std::string path(const std::string& file) const { return folder + "/" + file; }
  const GraphSpec& graph(const std::string& graphName) const;
  int blockSamples() const { return blockFrames * hop; }
};

/** The package's GPU twin: the same model exported with `--precision fp16` (float16 DiT graphs and VAE
    decoder), in a sibling folder named like it plus kGpuTwinSuffix (models/lmdm-live and
    models/lmdm-live-fp16; model and model-fp16 in a GPU build's bundle). "" when there is none. int8 is
    what a CPU runs fastest, float16 what a GPU does, so a host asking for an accelerator tries the twin
    first (LmdmProcessor). */
inline constexpr const char* kGpuTwinSuffix = "-fp16";
std::string gpuTwinFolder(const std::string& folder);

/** Lower-case hex sha256 of a file's bytes; throws PackageError if it cannot be read. */
std::string sha256File(const std::string& path);

/** The prompt bank (prompts.json's text; `file` names it in messages): every preset with textDim finite numbers. */
std::vector<PromptPreset> parsePromptBank(const std::string& text, const std::string& file, int textDim);

}  // namespace lmdm

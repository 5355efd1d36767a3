#include "lmdm/ModelPackage.h"

#include <openssl/evp.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <type_traits>
#include <nlohmann/json.hpp>

namespace lmdm {
namespace {

using nlohmann::json;

const char* const kGraphNames[] = {"features", "vae_decoder", "timestep", "context_encoder", "denoiser"};

json readJson(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) throw PackageError(what + " is missing: " + path);
  try {
    return json::parse(in);
  } catch (const json::exception& error) {
    throw PackageError(what + " is not valid JSON (" + path + "): " + error.what());
  }
}

// manifest["a"]["b"] with a message naming the field when it is absent or of the wrong type.
template <typename T>
T field(const json& root, std::initializer_list<const char*> keys) {
  std::string where;
  const json* node = &root;
  for (const char* key : keys) {
    where += (where.empty() ? "" : ".") + std::string(key);
    if (!node->is_object() || !node->contains(key)) throw PackageError("manifest.json has no '" + where + "'");
    node = &(*node)[key];
  }
  try {
    if constexpr (std::is_same_v<T, int>) {  // a float or a huge number would not convert to int safely
      constexpr long long low = std::numeric_limits<int>::min(), high = std::numeric_limits<int>::max();
      const bool fits = node->is_number_unsigned() ? node->get<unsigned long long>() <= static_cast<unsigned long long>(high)
                        : node->is_number_integer() && node->get<long long>() >= low && node->get<long long>() <= high;
      if (!fits) throw PackageError("manifest.json field '" + where + "' is not an integer: " + node->dump().substr(0, 80));
    }
    return node->get<T>();
  } catch (const json::exception&) {
    throw PackageError("manifest.json field '" + where + "' has the wrong type: " + node->dump().substr(0, 80));
  }
}

void checkHash(const ModelPackage& package, const std::string& file, const std::string& expected) {
  // A package names its own files: plain relative paths that stay inside its folder.
  const bool inside = !file.empty() && file.front() != '/' && file.find('\\') == std::string::npos &&
                      ("/" + file + "/").find("/../") == std::string::npos && file.find('\0') == std::string::npos;
  if (!inside) throw PackageError("manifest.json names a file outside the package: '" + file.substr(0, 80) + "'");
  const std::string actual = sha256File(package.path(file));
  if (actual != expected)
    throw PackageError(file + " does not match the manifest (sha256 " + actual.substr(0, 12) + "..., expected " +
                       expected.substr(0, 12) + "...): the package was changed or copied incompletely");
}

std::vector<TensorSpec> tensorSpecs(const json& list) {
  std::vector<TensorSpec> specs;
  for (const auto& entry : list) {
    TensorSpec spec{entry.at("name").get<std::string>(), entry.at("dtype").get<std::string>(), {}};
    for (const auto& dim : entry.at("shape")) spec.shape.push_back(dim.is_number_integer() ? dim.get<long long>() : -1);
    specs.push_back(std::move(spec));
  }
  return specs;
}

void readGraphs(ModelPackage& package, const json& manifest) {
  for (const char* graphName : kGraphNames) {
    const std::string file = field<std::string>(manifest, {"graphs", graphName, "file"});
    checkHash(package, file, field<std::string>(manifest, {"graphs", graphName, "sha256"}));
    try {
      const json& entry = manifest["graphs"][graphName];
      package.graphs[graphName] = {file, tensorSpecs(entry.at("inputs")), tensorSpecs(entry.at("outputs"))};
    } catch (const json::exception& error) {
      throw PackageError(std::string("manifest.json graphs.") + graphName + " has a malformed signature: " + error.what());
    }
  }
  checkHash(package, field<std::string>(manifest, {"weights", "file"}), field<std::string>(manifest, {"weights", "sha256"}));
}

void readPrompts(ModelPackage& package, const json& manifest) {
  const std::string file = field<std::string>(manifest, {"prompts", "file"});
  checkHash(package, file, field<std::string>(manifest, {"prompts", "sha256"}));
  std::ifstream in(package.path(file), std::ios::binary);
  if (!in) throw PackageError(file + " is missing: " + package.path(file));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  package.prompts = parsePromptBank(text, file, package.textDim);
}

void readNumbers(ModelPackage& p, const json& m) {
  p.name = field<std::string>(m, {"name"});
  p.sampleRate = field<int>(m, {"audio", "sample_rate"});
  p.latentDim = field<int>(m, {"latent", "dim"});
  p.hop = field<int>(m, {"latent", "samples_per_latent"});
  p.decoderDelaySamples = field<int>(m, {"latent", "decoder_delay_samples"});
  p.latentMean = field<std::vector<float>>(m, {"latent", "mean"});
  p.latentStd = field<std::vector<float>>(m, {"latent", "std"});
  const auto variant = field<std::string>(m, {"stream", "variant"});
  if (variant != "encdec" && variant != "blockcausal")
    throw PackageError("manifest.json is inconsistent: stream.variant is '" + variant +
                       "'; a host streams 'encdec' or 'blockcausal'");
  p.variant = variant == "encdec" ? Variant::EncDec : Variant::BlockCausal;
  p.contextFrames = field<int>(m, {"stream", "context_frames"});
  p.blockFrames = field<int>(m, {"stream", "block_frames"});
  p.defaultSteps = field<int>(m, {"stream", "default_steps"});
  p.defaultGuidance = field<float>(m, {"stream", "default_guidance"});
  p.timeShift = m["stream"].value("time_shift", 1.0);
  const auto solver = m["stream"].value("solver", std::string("euler"));
  if (solver != "euler" && solver != "pingpong")
    throw PackageError("manifest.json stream.solver is '" + solver + "'; a host samples with 'euler' or 'pingpong'");
  p.solver = solver == "pingpong" ? Solver::PingPong : Solver::Euler;
  if (m["stream"].contains("unconditional_drops")) {
    const auto drops = field<std::vector<std::string>>(m, {"stream", "unconditional_drops"});
    if (drops != std::vector<std::string>{"text"} && drops != std::vector<std::string>{"text", "controls"})
      throw PackageError(R"(manifest.json stream.unconditional_drops must be ["text"] or ["text", "controls"])");
    p.guidanceDropsControls = drops.size() == 2;
  }
  p.layers = field<int>(m, {"kv", "layers"});
  p.heads = field<int>(m, {"kv", "heads"});
  p.headDim = field<int>(m, {"kv", "head_dim"});
  p.textDim = field<int>(m, {"text", "dim"});
  p.voicedThreshold = field<float>(m, {"controls", "voiced_threshold"});
  const char* const statKeys[] = {"loudness_db", "brightness", "pitch_midi"};
  for (int c = 0; c < ModelPackage::kControls; ++c) {
    p.controlMean[c] = field<float>(m, {"controls", "normalisation", statKeys[c], "mean"});
    p.controlStd[c] = field<float>(m, {"controls", "normalisation", statKeys[c], "std"});
  }
  for (const auto& frame : field<std::vector<std::vector<float>>>(m, {"stream", "start_latents"}))
    p.startLatents.insert(p.startLatents.end(), frame.begin(), frame.end());
}

void checkConsistency(const ModelPackage& p) {
  auto require = [](bool ok, const std::string& message) {
    if (!ok) throw PackageError("manifest.json is inconsistent: " + message);
  };
  auto within = [](int value, int most) { return value > 0 && value <= most; };
  // Bounds far above any model this engine can run in real time: what lies beyond is damage, and would
  // overflow the engine's buffer arithmetic or ask it for gigabytes.
  require(within(p.sampleRate, 768000) && within(p.hop, 1 << 16) && within(p.latentDim, 4096),
          "audio.sample_rate, latent.samples_per_latent and latent.dim must be > 0 (and plausible)");
  require(p.decoderDelaySamples >= 0 && p.decoderDelaySamples <= 1 << 20, "latent.decoder_delay_samples must be >= 0");
  require(within(p.blockFrames, 4096) && within(p.contextFrames, 1 << 16) && p.contextFrames >= p.blockFrames &&
              p.contextFrames % p.blockFrames == 0,
          "stream.context_frames must be a positive multiple of stream.block_frames");
  require(static_cast<long long>(p.blockFrames) * p.hop <= 1 << 22, "a block must be at most 2^22 samples");
  require(within(p.defaultSteps, 1000) && within(p.layers, 1024) && within(p.heads, 1024) && within(p.headDim, 4096) &&
              within(p.textDim, 1 << 16),
          "sizes must be > 0 (and plausible)");
  require(std::isfinite(p.defaultGuidance) && std::isfinite(p.timeShift) && p.timeShift > 0.0 &&
              std::isfinite(p.voicedThreshold),
          "stream.default_guidance, stream.time_shift and controls.voiced_threshold must be finite (time_shift > 0)");
  require(static_cast<int>(p.latentMean.size()) == p.latentDim && static_cast<int>(p.latentStd.size()) == p.latentDim,
          "latent.mean and latent.std need latent.dim numbers");
  const bool startsFromNothing = p.startLatents.empty();
  require(p.startLatents.size() == static_cast<std::size_t>(p.contextFrames) * static_cast<std::size_t>(p.latentDim) ||
              (startsFromNothing && p.variant == Variant::BlockCausal),
          "stream.start_latents must be context_frames x latent.dim (or empty: blockcausal only)");
  for (int c = 0; c < ModelPackage::kControls; ++c)
    require(p.controlStd[c] > 0.0f && std::isfinite(p.controlStd[c]) && std::isfinite(p.controlMean[c]),
            "control std must be > 0, and the statistics finite");
  for (int d = 0; d < p.latentDim; ++d)
    require(p.latentStd[d] > 0.0f && std::isfinite(p.latentStd[d]) && std::isfinite(p.latentMean[d]),
            "latent.std must be > 0, and latent.mean and latent.std finite");
}

void readFixtures(ModelPackage& package, const json& manifest) {
  if (!manifest.contains("fixtures")) return;
  try {
    const json& section = manifest.at("fixtures");
    package.fixtures.folder = section.at("folder").get<std::string>();
    for (const auto& graphName : section.at("graphs").get<std::vector<std::string>>())
      package.fixtures.tolerance[graphName] = section.at("tolerance").at(graphName).get<double>();
  } catch (const json::exception& error) {
    throw PackageError(std::string("manifest.json fixtures section is malformed: ") + error.what());
  }
}

}  // namespace

std::vector<PromptPreset> parsePromptBank(const std::string& text, const std::string& file, int textDim) {
  json bank;
  try {
    bank = json::parse(text);
  } catch (const json::exception& error) {
    throw PackageError(file + " is not valid JSON: " + error.what());
  }
  std::vector<PromptPreset> prompts;
  const json entries = field<json>(bank, {"prompts"});
  if (!entries.is_array()) throw PackageError(file + ": 'prompts' is not a list");
  for (const auto& entry : entries) {
    PromptPreset preset{field<std::string>(entry, {"name"}), field<std::string>(entry, {"text"}),
                        field<std::vector<float>>(entry, {"embedding"})};
    if (static_cast<long long>(preset.embedding.size()) != textDim)
      throw PackageError(file + ": prompt '" + preset.name.substr(0, 80) + "' has " + std::to_string(preset.embedding.size()) +
                         " numbers, the model reads " + std::to_string(textDim));
    for (const float value : preset.embedding)
      if (!std::isfinite(value)) throw PackageError(file + ": prompt '" + preset.name.substr(0, 80) + "' is not finite");
    prompts.push_back(std::move(preset));
  }
  if (prompts.empty()) throw PackageError(file + " holds no prompts");
  return prompts;
}

std::string gpuTwinFolder(const std::string& folder) {
  namespace fs = std::filesystem;
  fs::path path(folder);
  if (!path.has_filename()) path = path.parent_path();  // "models/lmdm-live/"
  if (path.empty()) return {};
  const fs::path twin = path.parent_path() / (path.filename().string() + kGpuTwinSuffix);
  std::error_code error;
  return fs::is_regular_file(twin / "manifest.json", error) ? twin.string() : std::string();
}

std::string sha256File(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw PackageError("missing file: " + path);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr);
  std::vector<char> buffer(1 << 16);  // a 1 MB buffer cost a 1 MB memset per file: most of a small package's load
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    EVP_DigestUpdate(context.get(), buffer.data(), static_cast<std::size_t>(in.gcount()));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context.get(), digest, &length);
  static const char* const hex = "0123456789abcdef";
  std::string text;
  for (unsigned int i = 0; i < length; ++i) text += {hex[digest[i] >> 4], hex[digest[i] & 15]};
  return text;
}

ModelPackage ModelPackage::load(const std::string& folder) {
  ModelPackage package;
  package.folder = folder;
  const json manifest = readJson(package.path("manifest.json"), "manifest.json (is '" + folder + "' a model package?)");
  const int version = field<int>(manifest, {"schema_version"});
  if (version != kSchemaVersion)
    throw PackageError("manifest.json has schema_version " + std::to_string(version) + "; this build reads version " +
                       std::to_string(kSchemaVersion) + " (export the model again, or update LMDM)");
  try {
    readNumbers(package, manifest);
    checkConsistency(package);
    readGraphs(package, manifest);
    readPrompts(package, manifest);
    readFixtures(package, manifest);
  } catch (const json::exception& error) {  // an optional field of the wrong type, read with a default
    throw PackageError(std::string("manifest.json is malformed: ") + error.what());
  }
  return package;
}

const GraphSpec& ModelPackage::graph(const std::string& graphName) const {
  const auto found = graphs.find(graphName);
  if (found == graphs.end()) throw PackageError("the package has no graph '" + graphName + "'");
  return found->second;
}

}  // namespace lmdm

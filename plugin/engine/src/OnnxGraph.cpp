#include "lmdm/OnnxGraph.h"

#include <algorithm>
#include <numeric>

namespace lmdm {
namespace {

/** The accelerators a host may ask for: our name, ONNX Runtime's provider name, and how to append it. */
struct ProviderChoice {
  const char* key;
  const char* ortName;
  const char* genericName;  // for SessionOptions::AppendExecutionProvider(name); nullptr: CUDA's typed call
};
constexpr ProviderChoice kProviderChoices[] = {
    {"cuda", "CUDAExecutionProvider", nullptr},
    {"coreml", "CoreMLExecutionProvider", "CoreML"},
    {"directml", "DmlExecutionProvider", "DML"},
};

const ProviderChoice* findChoice(const std::string& key) {
  for (const auto& choice : kProviderChoices)
    if (key == choice.key) return &choice;
  return nullptr;
}

bool offered(const ProviderChoice& choice) {
  const auto providers = availableProviders();
  return std::find(providers.begin(), providers.end(), choice.ortName) != providers.end();
}

Ort::SessionOptions baseOptions(const SessionSettings& settings) {
  Ort::SessionOptions options;
  options.SetIntraOpNumThreads(std::max(1, settings.threads));
  options.SetInterOpNumThreads(1);
  options.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
  // Idle pool threads sleep instead of spinning: the host's audio and UI threads share the cores.
  options.AddConfigEntry("session.intra_op.allow_spinning", "0");
  return options;
}

std::string shapeText(const std::vector<long long>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + (shape[i] < 0 ? std::string("?") : std::to_string(shape[i]));
  return text + "]";
}

bool sameShape(const std::vector<long long>& manifest, const std::vector<std::int64_t>& file) {
  if (manifest.size() != file.size()) return false;
  for (std::size_t i = 0; i < file.size(); ++i)
    if (manifest[i] >= 0 && file[i] >= 0 && manifest[i] != file[i]) return false;
  return true;
}

void checkTensor(const std::string& graphName, const char* side, const TensorSpec& expected,
                 const std::string& actualName, const Ort::TypeInfo& info) {
  const std::string where = graphName + ".onnx " + side + " '" + expected.name + "'";
  if (actualName != expected.name)
    throw PackageError(where + ": the graph has '" + actualName + "' in its place (manifest and graph disagree)");
  const auto tensor = info.GetTensorTypeAndShapeInfo();
  if (tensor.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || expected.dtype != "float32")
    throw PackageError(where + ": expected float32 in both manifest and graph");
  const auto shape = tensor.GetShape();
  if (!sameShape(expected.shape, shape))
    throw PackageError(where + ": the manifest says shape " + shapeText(expected.shape) + ", the graph has " +
                       shapeText(std::vector<long long>(shape.begin(), shape.end())));
}

}  // namespace

Ort::Env& ortEnvironment() {
  static Ort::Env environment(ORT_LOGGING_LEVEL_WARNING, "lmdm");
  return environment;
}

std::vector<std::string> availableProviders() { return Ort::GetAvailableProviders(); }

std::vector<std::string> selectableProviders() {
  std::vector<std::string> names{"cpu"};
  for (const auto& choice : kProviderChoices)
    if (offered(choice)) names.emplace_back(choice.key);
  return names;
}

OnnxGraph::OnnxGraph(const ModelPackage& package, const std::string& graphName, const SessionSettings& settings)
    : spec_(package.graph(graphName)) {
  createSession(package.path(spec_.file), settings);
  checkSignature(graphName);
  for (const auto& input : spec_.inputs) inputNames_.push_back(input.name.c_str());
  for (const auto& output : spec_.outputs) outputNames_.push_back(output.name.c_str());
}

void OnnxGraph::createSession(const std::string& file, const SessionSettings& settings) {
  provider_ = "cpu";
  const ProviderChoice* choice = findChoice(settings.executionProvider);
  if (choice && offered(*choice)) {
    // An offered provider can still fail to start (no device, driver or library): then the CPU runs it.
    try {
      Ort::SessionOptions options = baseOptions(settings);
      if (choice->genericName) options.AppendExecutionProvider(choice->genericName);
      else options.AppendExecutionProvider_CUDA(OrtCUDAProviderOptions{});
      session_ = Ort::Session(ortEnvironment(), file.c_str(), options);
      provider_ = choice->key;
      return;
    } catch (const Ort::Exception& error) {
      providerNote_ = std::string(choice->key) + " could not start (" + error.what() + "); running on the CPU";
    }
  } else if (choice) {
    providerNote_ = std::string(choice->key) + " was asked for but this ONNX Runtime has no " + choice->ortName +
                    "; running on the CPU";
  } else if (settings.executionProvider != "cpu") {
    providerNote_ = "unknown execution provider '" + settings.executionProvider + "'; running on the CPU";
  }
  try {
    session_ = Ort::Session(ortEnvironment(), file.c_str(), baseOptions(settings));
  } catch (const Ort::Exception& error) {
    throw PackageError(spec_.file + " could not be loaded by ONNX Runtime: " + error.what());
  }
}

void OnnxGraph::checkSignature(const std::string& graphName) {
  Ort::AllocatorWithDefaultOptions allocator;
  if (session_.GetInputCount() != spec_.inputs.size() || session_.GetOutputCount() != spec_.outputs.size())
    throw PackageError(graphName + ".onnx has " + std::to_string(session_.GetInputCount()) + " inputs and " +
                       std::to_string(session_.GetOutputCount()) + " outputs; the manifest lists " +
                       std::to_string(spec_.inputs.size()) + " and " + std::to_string(spec_.outputs.size()));
  for (std::size_t i = 0; i < spec_.inputs.size(); ++i)
    checkTensor(graphName, "input", spec_.inputs[i], session_.GetInputNameAllocated(i, allocator).get(),
                session_.GetInputTypeInfo(i));
  for (std::size_t i = 0; i < spec_.outputs.size(); ++i)
    checkTensor(graphName, "output", spec_.outputs[i], session_.GetOutputNameAllocated(i, allocator).get(),
                session_.GetOutputTypeInfo(i));
}

std::vector<Ort::Value> OnnxGraph::run(const std::vector<Ort::Value>& inputs) {
  return session_.Run(Ort::RunOptions{nullptr}, inputNames_.data(), inputs.data(), inputs.size(),
                      outputNames_.data(), outputNames_.size());
}

Ort::Value tensorView(float* data, const std::vector<std::int64_t>& shape) {
  static const auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  const auto count = std::accumulate(shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<>());
  return Ort::Value::CreateTensor<float>(memory, data, static_cast<std::size_t>(count), shape.data(), shape.size());
}

}  // namespace lmdm

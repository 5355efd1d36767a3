#include "lmdm/PackageFixtures.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lmdm/OnnxGraph.h"

namespace lmdm {

std::map<std::string, StoredTensor> readSafetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw PackageError("missing file: " + path);
  std::uint64_t headerSize = 0;
  unsigned char sizeBytes[8];
  if (!in.read(reinterpret_cast<char*>(sizeBytes), 8)) throw PackageError(path + " is not a safetensors file (too short)");
  for (int i = 7; i >= 0; --i) headerSize = (headerSize << 8) | sizeBytes[i];  // little-endian u64
  if (headerSize > (1u << 24)) throw PackageError(path + " is not a safetensors file (header size " + std::to_string(headerSize) + ")");
  std::string header(headerSize, '\0');
  in.read(header.data(), static_cast<std::streamsize>(headerSize));
  const std::vector<char> body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  nlohmann::json entries;
  try {
    entries = nlohmann::json::parse(header);
  } catch (const nlohmann::json::exception& error) {
    throw PackageError(path + ": unreadable safetensors header: " + error.what());
  }
  std::map<std::string, StoredTensor> tensors;
  for (const auto& [name, entry] : entries.items()) {
    if (name == "__metadata__") continue;
    if (entry.value("dtype", "") != "F32") throw PackageError(path + ": tensor '" + name + "' is not float32");
    const auto offsets = entry.at("data_offsets").get<std::vector<std::size_t>>();
    StoredTensor tensor{entry.at("shape").get<std::vector<std::int64_t>>(), {}};
    if (offsets.size() != 2 || offsets[1] < offsets[0] || offsets[1] > body.size() || (offsets[1] - offsets[0]) % 4)
      throw PackageError(path + ": tensor '" + name + "' lies outside the file");
    tensor.values.resize((offsets[1] - offsets[0]) / 4);
    std::memcpy(tensor.values.data(), body.data() + offsets[0], offsets[1] - offsets[0]);
    tensors[name] = std::move(tensor);
  }
  return tensors;
}

std::map<std::string, double> checkFixtures(const ModelPackage& package) {
  std::map<std::string, double> worst;
  for (const auto& [graphName, tolerance] : package.fixtures.tolerance) {
    auto stored = readSafetensors(package.path(package.fixtures.folder + "/" + graphName + ".safetensors"));
    OnnxGraph graph(package, graphName, SessionSettings{});
    std::vector<Ort::Value> inputs;
    for (const auto& input : graph.spec().inputs) {
      auto found = stored.find("input." + input.name);
      if (found == stored.end()) throw PackageError(graphName + " fixture has no input '" + input.name + "'");
      inputs.push_back(tensorView(found->second.values.data(), found->second.shape));
    }
    const auto outputs = graph.run(inputs);
    double error = 0.0;
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      const auto found = stored.find("output." + graph.spec().outputs[i].name);
      if (found == stored.end()) continue;  // an output the exporter did not store
      const auto& expected = found->second.values;
      if (outputs[i].GetTensorTypeAndShapeInfo().GetElementCount() != expected.size())
        throw PackageError(graphName + " output '" + graph.spec().outputs[i].name + "' has the wrong size");
      const float* actual = outputs[i].GetTensorData<float>();
      double scale = 1.0, difference = 0.0;
      for (std::size_t k = 0; k < expected.size(); ++k) {
        scale = std::max(scale, static_cast<double>(std::fabs(expected[k])));
        difference = std::max(difference, static_cast<double>(std::fabs(actual[k] - expected[k])));
      }
      error = std::max(error, difference / scale);
    }
    worst[graphName] = error;
    if (error > tolerance)
      throw PackageError(graphName + ": fixture error " + std::to_string(error) + " exceeds the tolerance " +
                         std::to_string(tolerance));
  }
  return worst;
}

}  // namespace lmdm

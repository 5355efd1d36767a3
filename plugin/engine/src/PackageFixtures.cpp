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
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parseSafetensors(bytes, path);
}

namespace {

// entry[key] if it is a list of whole numbers: converting a JSON float such as 7e34 to an integer type
// is undefined behaviour, so floats are refused before any conversion.
const nlohmann::json& integerList(const nlohmann::json& entry, const char* key, const std::string& what) {
  const auto& list = entry.at(key);
  if (!list.is_array() || !std::all_of(list.begin(), list.end(), [](const nlohmann::json& x) { return x.is_number_integer(); }))
    throw PackageError(what + " has a " + key + " that is not a list of integers");
  return list;
}

}  // namespace

std::map<std::string, StoredTensor> parseSafetensors(std::string_view bytes, const std::string& name) {
  if (bytes.size() < 8) throw PackageError(name + " is not a safetensors file (too short)");
  std::uint64_t headerSize = 0;
  for (int i = 7; i >= 0; --i) headerSize = (headerSize << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  if (headerSize > (1u << 24) || headerSize > bytes.size() - 8)
    throw PackageError(name + " is not a safetensors file (header size " + std::to_string(headerSize) + ")");
  const std::string_view body = bytes.substr(8 + headerSize);
  std::map<std::string, StoredTensor> tensors;
  try {
    const auto entries = nlohmann::json::parse(bytes.substr(8, headerSize));
    if (!entries.is_object()) throw PackageError(name + ": the safetensors header is not a JSON object");
    for (const auto& [tensorName, entry] : entries.items()) {
      if (tensorName == "__metadata__") continue;
      if (!entry.is_object() || entry.value("dtype", "") != "F32")
        throw PackageError(name + ": tensor '" + tensorName + "' is not float32");
      const std::string what = name + ": tensor '" + tensorName + "'";
      const auto offsets = integerList(entry, "data_offsets", what).get<std::vector<std::size_t>>();
      StoredTensor tensor{integerList(entry, "shape", what).get<std::vector<std::int64_t>>(), {}};
      if (offsets.size() != 2 || offsets[1] < offsets[0] || offsets[1] > body.size() || (offsets[1] - offsets[0]) % 4)
        throw PackageError(name + ": tensor '" + tensorName + "' lies outside the file");
      // The shape must say how many numbers there are: a graph given this tensor reads that many.
      std::uint64_t elements = 1;
      for (const auto dim : tensor.shape) {
        if (dim < 0 || (dim > 0 && elements > (std::uint64_t{1} << 40) / static_cast<std::uint64_t>(dim)))
          throw PackageError(name + ": tensor '" + tensorName + "' has an impossible shape");
        elements *= static_cast<std::uint64_t>(dim);
      }
      if (elements != (offsets[1] - offsets[0]) / 4)
        throw PackageError(name + ": tensor '" + tensorName + "' holds " + std::to_string((offsets[1] - offsets[0]) / 4) +
                           " numbers, its shape says " + std::to_string(elements));
      tensor.values.resize(elements);
      if (elements > 0) std::memcpy(tensor.values.data(), body.data() + offsets[0], offsets[1] - offsets[0]);
      tensors[tensorName] = std::move(tensor);
    }
  } catch (const nlohmann::json::exception& error) {
    throw PackageError(name + ": unreadable safetensors header: " + error.what());
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

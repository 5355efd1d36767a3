// The golden fixtures of a model package, checked with this build's ONNX Runtime: each graph is run on
// the inputs stored in fixtures/<graph>.safetensors and its outputs compared with the stored ones
// (the exporter's PyTorch results) under the manifest's tolerance. The C++ side of
// lmdm.export.fixtures.check_fixtures: both must accept the same package.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "lmdm/ModelPackage.h"

namespace lmdm {

struct StoredTensor {
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};

/** Reads a safetensors file holding float32 tensors; throws PackageError naming the file and problem. */
std::map<std::string, StoredTensor> readSafetensors(const std::string& path);
/** The same from the file's bytes (`name` for the messages); every tensor's shape matches its data. */
std::map<std::string, StoredTensor> parseSafetensors(std::string_view bytes, const std::string& name);

/** Per graph, the worst error (|actual - expected| / max(1, max|expected|)); throws PackageError when
 * a graph exceeds its tolerance. Allocates, does I/O, runs every graph once. */
std::map<std::string, double> checkFixtures(const ModelPackage& package);

}  // namespace lmdm

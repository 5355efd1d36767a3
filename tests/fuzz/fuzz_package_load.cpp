// Fuzz target: the damage of fuzz_package (PackageDamage.h), stopped after lmdm::ModelPackage::load,
// which checks that every file the manifest names exists with its sha256 and parses the manifest and
// the prompt bank, without the five ONNX Runtime sessions per input of the whole load. Damage must be
// refused with a PackageError; what loads must be self-consistent.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "LoadedPackageCheck.h"
#include "PackageDamage.h"

namespace {

constexpr std::size_t kStandInBytes = 4096;

// ModelPackage::load only hashes the graphs and the weights file (ONNX Runtime reads them, not this
// target), so the copy's are cut to their first 4 kB, and its prompt bank to two prompts (parsing 12
// embeddings took most of what was left), with the manifest rehashed: the same load and the same
// damage, without hashing 6.5 MB per input (27 inputs a second before).
const lmdm::fuzz::PackageCopy& copyWithStandInGraphs() {
  static const lmdm::fuzz::PackageCopy& copy = []() -> const lmdm::fuzz::PackageCopy& {
    namespace fs = std::filesystem;
    const fs::path& folder = lmdm::fuzz::scratchPackage("package-load");
    auto manifest = nlohmann::json::parse(lmdm::fuzz::readFile(folder / "manifest.json"));
    for (const auto& entry : fs::directory_iterator(folder)) {
      const auto extension = entry.path().extension();
      if (!entry.is_regular_file() || (extension != ".onnx" && extension != ".bin")) continue;
      std::string bytes = lmdm::fuzz::readFile(entry.path());
      bytes.resize(std::min(bytes.size(), kStandInBytes));
      lmdm::fuzz::writeFile(entry.path(), bytes);
      lmdm::fuzz::rehash(manifest, entry.path().filename().string(), lmdm::sha256File(entry.path().string()));
    }
    auto bank = nlohmann::json::parse(lmdm::fuzz::readFile(folder / "prompts.json"));
    bank["prompts"].erase(bank["prompts"].begin() + 2, bank["prompts"].end());
    lmdm::fuzz::writeFile(folder / "prompts.json", bank.dump());
    manifest["prompts"]["count"] = 2;
    lmdm::fuzz::rehash(manifest, "prompts.json", lmdm::sha256File((folder / "prompts.json").string()));
    lmdm::fuzz::writeFile(folder / "manifest.json", manifest.dump(1));
    return lmdm::fuzz::packageCopy("package-load");
  }();
  return copy;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const auto& copy = copyWithStandInGraphs();
  const lmdm::fuzz::DamagedPackage damaged(copy, data, size);
  lmdm::fuzz::loadAndCheckPackage(copy.folder.string());
  return 0;
}

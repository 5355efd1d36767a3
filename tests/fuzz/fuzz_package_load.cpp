// Fuzz target: the damage of fuzz_package (PackageDamage.h), stopped after lmdm::ModelPackage::load,
// which checks that every file the manifest names exists with its sha256 and parses the manifest and
// the prompt bank, without the five ONNX Runtime sessions per input of the whole load (docs/reliability.md:
// still tens of inputs a second, since every load hashes the package). Damage must be refused with a
// PackageError; what loads must be self-consistent.
#include <cstddef>
#include <cstdint>

#include "LoadedPackageCheck.h"
#include "PackageDamage.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const auto& copy = lmdm::fuzz::packageCopy("package-load");
  const lmdm::fuzz::DamagedPackage damaged(copy, data, size);
  lmdm::fuzz::loadAndCheckPackage(copy.folder.string());
  return 0;
}

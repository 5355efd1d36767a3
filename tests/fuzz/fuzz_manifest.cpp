// Fuzz target: manifest.json -> lmdm::ModelPackage::load, in a copy of a valid package whose other
// files stay intact. Every damaged manifest must be refused with a PackageError (any other exception
// escapes and counts as a crash), and what loads must be self-consistent.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "FuzzCheck.h"
#include "LoadedPackageCheck.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& folder = lmdm::fuzz::scratchPackage("manifest");
  lmdm::fuzz::writeFile(folder / "manifest.json", std::string_view(reinterpret_cast<const char*>(data), size));
  lmdm::fuzz::loadAndCheckPackage(folder.string());
  return 0;
}

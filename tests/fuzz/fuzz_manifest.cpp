// Fuzz target: manifest.json -> lmdm::ModelPackage::load, in a copy of a valid package whose other
// files stay intact. Every damaged manifest must be refused with a PackageError (any other exception
// escapes and counts as a crash), and what loads must be self-consistent.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "FuzzCheck.h"
#include "lmdm/ModelPackage.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& folder = lmdm::fuzz::scratchPackage("manifest");
  lmdm::fuzz::writeFile(folder / "manifest.json", std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    const auto package = lmdm::ModelPackage::load(folder.string());
    LMDM_FUZZ_CHECK(package.blockFrames > 0 && package.contextFrames % package.blockFrames == 0);
    LMDM_FUZZ_CHECK(static_cast<int>(package.latentMean.size()) == package.latentDim);
    LMDM_FUZZ_CHECK(!package.prompts.empty());
    for (const auto& prompt : package.prompts) LMDM_FUZZ_CHECK(static_cast<int>(prompt.embedding.size()) == package.textDim);
  } catch (const lmdm::PackageError&) {
  }
  return 0;
}

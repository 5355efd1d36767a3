// What a package that loads must satisfy, whatever damage it survived (fuzz_manifest, fuzz_package_load).
#pragma once

#include <string>

#include "FuzzCheck.h"
#include "lmdm/ModelPackage.h"

namespace lmdm::fuzz {

/** Loads `folder`: refused with a PackageError, or self-consistent. Any other exception escapes, and
    libFuzzer counts it as a crash. */
inline void loadAndCheckPackage(const std::string& folder) {
  try {
    const auto package = ModelPackage::load(folder);
    LMDM_FUZZ_CHECK(package.blockFrames > 0 && package.contextFrames % package.blockFrames == 0);
    LMDM_FUZZ_CHECK(static_cast<int>(package.latentMean.size()) == package.latentDim);
    LMDM_FUZZ_CHECK(!package.prompts.empty());
    for (const auto& prompt : package.prompts) LMDM_FUZZ_CHECK(static_cast<int>(prompt.embedding.size()) == package.textDim);
  } catch (const PackageError&) {
  }
}

}  // namespace lmdm::fuzz

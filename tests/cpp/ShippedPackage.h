// The model package shipped in models/ (the plugin's default). The tests that run it are always
// built; where a checkout lacks the package they skip, and ctest lists them as skipped.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace lmdm::test {

inline bool shippedPackagePresent() {
  return std::filesystem::exists(std::string(LMDM_SHIPPED_PACKAGE) + "/manifest.json");
}

}  // namespace lmdm::test

#define LMDM_SKIP_WITHOUT_SHIPPED_PACKAGE()          \
  if (!lmdm::test::shippedPackagePresent())          \
  GTEST_SKIP() << LMDM_SHIPPED_PACKAGE " is absent (this checkout has no models/)"

// Fuzz target: the safetensors reader of the package fixtures (lmdm::parseSafetensors). Refused with a
// PackageError, or every tensor holds exactly the numbers its shape says (a graph reads that many).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "FuzzCheck.h"
#include "lmdm/PackageFixtures.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto tensors = lmdm::parseSafetensors(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.safetensors");
    for (const auto& [name, tensor] : tensors) {
      std::size_t elements = 1;
      for (const auto dim : tensor.shape) elements *= static_cast<std::size_t>(dim);
      LMDM_FUZZ_CHECK(elements == tensor.values.size());
    }
  } catch (const lmdm::PackageError&) {
  }
  return 0;
}

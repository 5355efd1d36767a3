// Fuzz target: a package's prompt bank (prompts.json's text -> lmdm::parsePromptBank). Refused with a
// PackageError, or every preset carries exactly the model's number of finite values.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "FuzzCheck.h"
#include "lmdm/ModelPackage.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr int kTextDim = 384;  // the shipped models' text embedding
  try {
    const auto prompts = lmdm::parsePromptBank(std::string(reinterpret_cast<const char*>(data), size), "prompts.json", kTextDim);
    LMDM_FUZZ_CHECK(!prompts.empty());
    for (const auto& prompt : prompts) {
      LMDM_FUZZ_CHECK(static_cast<int>(prompt.embedding.size()) == kTextDim);
      for (const float value : prompt.embedding) LMDM_FUZZ_CHECK(std::isfinite(value));
    }
  } catch (const lmdm::PackageError&) {
  }
  return 0;
}

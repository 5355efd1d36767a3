// Fuzz target: the plugin's saved state (lmdm::decodeState), the bytes a host hands back.
// Beyond not crashing: whatever decodes, encodes to state that decodes to the same values and session
// (a choice that could not survive the trip is left out, never garbled), every value in its range.
#include <cstddef>
#include <cstdint>

#include "FuzzCheck.h"
#include "lmdm/StateCodec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto decoded = lmdm::decodeState(data, size);
  for (const auto& spec : lmdm::kParameterSpecs) {
    const float value = lmdm::valueOf(decoded.values, spec.id);
    LMDM_FUZZ_CHECK(value >= spec.minValue && value <= spec.maxValue);
  }
  if (!decoded.recognised) return 0;
  const std::string encoded = lmdm::encodeState(decoded.values, decoded.session);
  const auto again = lmdm::decodeState(encoded.data(), encoded.size());
  LMDM_FUZZ_CHECK(again.recognised);
  for (const auto& spec : lmdm::kParameterSpecs)
    LMDM_FUZZ_CHECK(lmdm::valueOf(again.values, spec.id) == lmdm::valueOf(decoded.values, spec.id));
  LMDM_FUZZ_CHECK(again.session.modelFolder.empty() || again.session.modelFolder == decoded.session.modelFolder);
  LMDM_FUZZ_CHECK(again.session.provider.empty() || again.session.provider == decoded.session.provider);
  return 0;
}

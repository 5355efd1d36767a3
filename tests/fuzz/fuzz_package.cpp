// Fuzz target: a whole model package directory, damaged one file at a time (PackageDamage.h), then
// loaded the way the plugin loads it (lmdm::LmdmProcessor: manifest, hashes, prompt bank, ONNX
// sessions, signatures) and, when it loads, prepared and run for a block. A damaged package must be
// refused with a reason (status()), never crash or throw. Five ONNX sessions per input make it slow
// (a few inputs a second); fuzz_package_load covers the same damage up to ModelPackage::load quickly.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "PackageDamage.h"
#include "lmdm/LmdmProcessor.h"
#include "lmdm/OrtRuntime.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  lmdm::OrtRuntime::load(LMDM_ORT_LIBRARY);
  lmdm::fuzz::packageCopy("package");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const lmdm::fuzz::DamagedPackage damaged(lmdm::fuzz::packageCopy("package"), data, size);
  lmdm::LmdmProcessor processor(lmdm::fuzz::packageCopy("package").folder.string(), lmdm::SessionSettings{1, "cpu"});
  if (processor.ready()) {
    const int frames = processor.prepare(processor.model()->package().sampleRate, 1);
    LMDM_FUZZ_CHECK(frames > 0);
    std::vector<float> input(static_cast<std::size_t>(frames), 0.1f), output(static_cast<std::size_t>(frames), 0.0f);
    const float* in[] = {input.data()};
    float* out[] = {output.data()};
    processor.process({in, out, 1, frames, 0});
  } else {
    LMDM_FUZZ_CHECK(!processor.status().empty());
  }
  return 0;
}

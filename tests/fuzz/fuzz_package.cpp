// Fuzz target: a whole model package directory, damaged one file at a time, then loaded the way the
// plugin loads it (lmdm::LmdmProcessor: manifest, hashes, prompt bank, ONNX sessions, signatures) and,
// when it loads, prepared and run for a block. The input picks a file and a damage:
//   0 replace it, 1 truncate it, 2 xor bytes into it (each with the manifest's hash updated, so the
//   damage reaches the checks behind the hash), 3 replace it without updating the hash.
// A damaged package must be refused with a reason (status()), never crash or throw; the copy is
// restored after each input.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "FuzzCheck.h"
#include "lmdm/LmdmProcessor.h"
#include "lmdm/ModelPackage.h"
#include "lmdm/OrtRuntime.h"

namespace {

namespace fs = std::filesystem;

struct Package {
  fs::path folder;
  std::vector<std::string> files;             // relative names of the files the plugin reads
  std::map<std::string, std::string> original;  // their bytes, and the manifest's
};

const Package& package() {
  static const Package loaded = [] {
    Package p;
    p.folder = lmdm::fuzz::scratchPackage("package");
    for (const auto& entry : fs::directory_iterator(p.folder))
      if (entry.is_regular_file()) p.files.push_back(entry.path().filename().string());
    std::sort(p.files.begin(), p.files.end());
    for (const auto& name : p.files) p.original[name] = lmdm::fuzz::readFile(p.folder / name);
    return p;
  }();
  return loaded;
}

// Sets "sha256" of every manifest entry whose "file" is `name` to the damaged file's hash.
void rehash(nlohmann::json& node, const std::string& name, const std::string& hash) {
  if (node.is_object() && node.contains("file") && node["file"] == name && node.contains("sha256")) node["sha256"] = hash;
  if (node.is_structured())
    for (auto& child : node) rehash(child, name, hash);
}

std::uint32_t readU32(const std::uint8_t* data, std::size_t size) {
  std::uint32_t value = 0;
  std::memcpy(&value, data, std::min<std::size_t>(size, 4));
  return value;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  lmdm::OrtRuntime::load(LMDM_ORT_LIBRARY);
  package();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const Package& p = package();
  const std::string& name = p.files[data[0] % p.files.size()];
  const int damage = data[1] % 4;
  const std::uint8_t* payload = data + 2;
  const std::size_t length = size - 2;
  std::string bytes = p.original.at(name);
  if (damage == 0 || damage == 3) {
    bytes.assign(reinterpret_cast<const char*>(payload), length);
  } else if (damage == 1) {
    bytes.resize(bytes.empty() ? 0 : readU32(payload, length) % bytes.size());
  } else if (!bytes.empty() && length > 4) {
    const std::size_t offset = readU32(payload, length) % bytes.size();
    for (std::size_t i = 4; i < length && offset + i - 4 < bytes.size(); ++i)
      bytes[offset + i - 4] = static_cast<char>(bytes[offset + i - 4] ^ payload[i]);
  }
  lmdm::fuzz::writeFile(p.folder / name, bytes);
  if (damage != 3 && name != "manifest.json") {
    auto manifest = nlohmann::json::parse(p.original.at("manifest.json"));
    rehash(manifest, name, lmdm::sha256File((p.folder / name).string()));
    lmdm::fuzz::writeFile(p.folder / "manifest.json", manifest.dump(1));
  }

  lmdm::LmdmProcessor processor(p.folder.string(), lmdm::SessionSettings{1, "cpu"});
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

  lmdm::fuzz::writeFile(p.folder / name, p.original.at(name));
  lmdm::fuzz::writeFile(p.folder / "manifest.json", p.original.at("manifest.json"));
  return 0;
}

// What the two whole-package fuzz targets share: a private copy of the seed package, and one file of it
// damaged as the input says. The input picks a file (first byte) and a damage (second byte):
//   0 replace it, 1 truncate it, 2 xor bytes into it (each with the manifest's hash updated, so the
//   damage reaches the checks behind the hash), 3 replace it without updating the hash.
// A DamagedPackage restores the copy when it goes out of scope.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "FuzzCheck.h"
#include "lmdm/ModelPackage.h"

namespace lmdm::fuzz {

struct PackageCopy {
  std::filesystem::path folder;
  std::vector<std::string> files;               // relative names of the files the plugin reads
  std::map<std::string, std::string> original;  // their bytes, and the manifest's
};

/** The process's copy of the seed package (made once; `target` names its folder). */
inline const PackageCopy& packageCopy(const char* target) {
  static const PackageCopy loaded = [target] {
    PackageCopy p;
    p.folder = scratchPackage(target);
    for (const auto& entry : std::filesystem::directory_iterator(p.folder))
      if (entry.is_regular_file()) p.files.push_back(entry.path().filename().string());
    std::sort(p.files.begin(), p.files.end());
    for (const auto& name : p.files) p.original[name] = readFile(p.folder / name);
    return p;
  }();
  return loaded;
}

// Sets "sha256" of every manifest entry whose "file" is `name` to the damaged file's hash.
inline void rehash(nlohmann::json& node, const std::string& name, const std::string& hash) {
  if (node.is_object() && node.contains("file") && node["file"] == name && node.contains("sha256")) node["sha256"] = hash;
  if (node.is_structured())
    for (auto& child : node) rehash(child, name, hash);
}

class DamagedPackage {
 public:
  /** Damages `copy` as the input (at least 2 bytes) says. */
  DamagedPackage(const PackageCopy& copy, const std::uint8_t* data, std::size_t size)
      : copy_(copy), name_(copy.files[data[0] % copy.files.size()]) {
    const int damage = data[1] % 4;
    const std::uint8_t* payload = data + 2;
    const std::size_t length = size - 2;
    std::string bytes = copy.original.at(name_);
    if (damage == 0 || damage == 3) {
      bytes.assign(reinterpret_cast<const char*>(payload), length);
    } else if (damage == 1) {
      bytes.resize(bytes.empty() ? 0 : readU32(payload, length) % bytes.size());
    } else if (!bytes.empty() && length > 4) {
      const std::size_t offset = readU32(payload, length) % bytes.size();
      for (std::size_t i = 4; i < length && offset + i - 4 < bytes.size(); ++i)
        bytes[offset + i - 4] = static_cast<char>(bytes[offset + i - 4] ^ payload[i]);
    }
    writeFile(copy.folder / name_, bytes);
    if (damage != 3 && name_ != "manifest.json") {
      auto manifest = nlohmann::json::parse(copy.original.at("manifest.json"));
      rehash(manifest, name_, sha256File((copy.folder / name_).string()));
      writeFile(copy.folder / "manifest.json", manifest.dump(1));
    }
  }
  ~DamagedPackage() {
    writeFile(copy_.folder / name_, copy_.original.at(name_));
    writeFile(copy_.folder / "manifest.json", copy_.original.at("manifest.json"));
  }
  DamagedPackage(const DamagedPackage&) = delete;
  DamagedPackage& operator=(const DamagedPackage&) = delete;

 private:
  static std::uint32_t readU32(const std::uint8_t* data, std::size_t size) {
    std::uint32_t value = 0;
    std::memcpy(&value, data, std::min<std::size_t>(size, 4));
    return value;
  }

  const PackageCopy& copy_;
  std::string name_;
};

}  // namespace lmdm::fuzz

// What the fuzz targets share: a check that stops the run with the failed condition (libFuzzer then
// saves the input as a crash), and the seed package a target copies before it damages a copy.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#define LMDM_FUZZ_CHECK(condition)                                                        \
  do {                                                                                    \
    if (!(condition)) {                                                                   \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (false)

namespace lmdm::fuzz {

/** The seed package ($LMDM_FUZZ_PACKAGE, made by tests/fuzz/make_corpora.py): a tiny valid package. */
inline std::string seedPackage() {
  const char* folder = std::getenv("LMDM_FUZZ_PACKAGE");
  if (folder == nullptr) {
    std::fprintf(stderr, "set LMDM_FUZZ_PACKAGE to a model package (make fuzz does)\n");
    std::abort();
  }
  return folder;
}

/** A private copy of the seed package for this process to damage, removed at exit. */
inline const std::filesystem::path& scratchPackage(const char* target) {
  namespace fs = std::filesystem;
  static const fs::path folder = [target] {
    const fs::path made = fs::temp_directory_path() / (std::string("lmdm-") + target + "-" + std::to_string(::getpid()));
    fs::remove_all(made);
    fs::copy(seedPackage(), made, fs::copy_options::recursive);
    std::atexit([] { std::error_code ignored; fs::remove_all(folder, ignored); });
    return made;
  }();
  return folder;
}

inline void writeFile(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  LMDM_FUZZ_CHECK(out.good());
}

inline std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace lmdm::fuzz

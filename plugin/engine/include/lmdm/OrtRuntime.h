// Loads ONNX Runtime at run time from an absolute path, never from the host's search path.
//
// A plugin lives inside someone else's process, which may already have loaded another ONNX Runtime
// release; ORT's symbols are versioned, so linking against it would bind us to whatever is there.
// We compile with ORT_API_MANUAL_INIT, dlopen the copy shipped beside our own binary, check that it
// offers the API version our headers were written for, and only then initialise the C++ wrapper.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

struct OrtApi;

namespace lmdm {

class OrtLoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class OrtRuntime {
 public:
  /**
   * Allocates, does I/O. Loads the library at `libraryPath` (once per process: later calls return
   * the runtime already loaded, whatever path they name). Throws OrtLoadError with a message that
   * says what was tried and what is wrong (missing file, not ONNX Runtime, API too old).
   */
  static std::shared_ptr<OrtRuntime> load(const std::string& libraryPath);

  /** The library file shipped beside the binary that contains this code (plugin bundle, tool, module). */
  static std::string bundledLibraryPath();

  const std::string& libraryPath() const { return path_; }
  std::string version() const;
  int apiVersion() const;
  const OrtApi& api() const { return *api_; }

 private:
  OrtRuntime(std::string path, const OrtApi* api, const char* version) : path_(std::move(path)), api_(api), version_(version) {}
  std::string path_;
  const OrtApi* api_;
  std::string version_;
};

}  // namespace lmdm

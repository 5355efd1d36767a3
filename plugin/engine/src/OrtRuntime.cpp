#include "lmdm/OrtRuntime.h"

#include <mutex>

#include <onnxruntime_cxx_api.h>  // built with ORT_API_MANUAL_INIT (see CMake)

#if defined(_WIN32)
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#include <dlfcn.h>
#endif

namespace lmdm {
namespace {

using GetApiBaseFn = const OrtApiBase*(ORT_API_CALL*)();

#if defined(_WIN32)
constexpr const char* kLibraryName = "onnxruntime.dll";
void* openLibrary(const std::string& path, std::string& error) {
  HMODULE handle = LoadLibraryExA(path.c_str(), nullptr, LOAD_WITH_ALTERED_SEARCH_PATH);
  if (!handle) error = "LoadLibrary failed with error " + std::to_string(GetLastError());
  return handle;
}
void* findSymbol(void* library, const char* name) {
  return reinterpret_cast<void*>(GetProcAddress(static_cast<HMODULE>(library), name));
}
std::string thisModuleDirectory() {
  HMODULE module = nullptr;
  GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                     reinterpret_cast<LPCSTR>(&thisModuleDirectory), &module);
  char buffer[MAX_PATH] = {};
  GetModuleFileNameA(module, buffer, MAX_PATH);
  std::string path(buffer);
  return path.substr(0, path.find_last_of("\\/"));
}
#else
#if defined(__APPLE__)
constexpr const char* kLibraryName = "libonnxruntime.dylib";
#else
constexpr const char* kLibraryName = "libonnxruntime.so.1";
#endif
void* openLibrary(const std::string& path, std::string& error) {
  // RTLD_LOCAL keeps its symbols out of the host's global namespace; RTLD_DEEPBIND-like isolation
  // is not needed because we never resolve ORT symbols by name except OrtGetApiBase below.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) error = dlerror();
  return handle;
}
void* findSymbol(void* library, const char* name) { return dlsym(library, name); }
std::string thisModuleDirectory() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&thisModuleDirectory), &info) == 0 || !info.dli_fname) return ".";
  std::string path(info.dli_fname);
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}
#endif

std::mutex& loadMutex() {
  static std::mutex m;
  return m;
}

std::shared_ptr<OrtRuntime>& loaded() {
  static std::shared_ptr<OrtRuntime> runtime;
  return runtime;
}

}  // namespace

std::string OrtRuntime::bundledLibraryPath() { return thisModuleDirectory() + "/" + kLibraryName; }

std::shared_ptr<OrtRuntime> OrtRuntime::load(const std::string& libraryPath) {
  std::lock_guard<std::mutex> lock(loadMutex());
  if (loaded()) return loaded();

  std::string error;
  void* library = openLibrary(libraryPath, error);
  if (!library)
    throw OrtLoadError("ONNX Runtime could not be loaded from '" + libraryPath + "': " + error);
  auto getApiBase = reinterpret_cast<GetApiBaseFn>(findSymbol(library, "OrtGetApiBase"));
  if (!getApiBase)
    throw OrtLoadError("'" + libraryPath + "' is not ONNX Runtime (it has no OrtGetApiBase symbol)");
  const OrtApiBase* base = getApiBase();
  const OrtApi* api = base ? base->GetApi(ORT_API_VERSION) : nullptr;
  if (!api)
    throw OrtLoadError("ONNX Runtime " + std::string(base ? base->GetVersionString() : "?") + " at '" +
                       libraryPath + "' does not provide API version " + std::to_string(ORT_API_VERSION) +
                       " (LMDM needs ONNX Runtime 1." + std::to_string(ORT_API_VERSION) + " or newer)");
  // The library stays loaded for the life of the process: ORT does not support being unloaded.
  Ort::InitApi(api);
  loaded().reset(new OrtRuntime(libraryPath, api, base->GetVersionString()));
  return loaded();
}

std::string OrtRuntime::version() const { return version_; }

int OrtRuntime::apiVersion() const { return ORT_API_VERSION; }

}  // namespace lmdm

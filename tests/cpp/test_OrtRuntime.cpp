// ONNX Runtime loaded at run time by absolute path, then used through the C++ API.
#include "lmdm/OrtRuntime.h"

#include <gtest/gtest.h>
#include <onnxruntime_cxx_api.h>

#include <array>

using lmdm::OrtLoadError;
using lmdm::OrtRuntime;

TEST(OrtRuntime, MissingLibraryIsAClearError) {
  try {
    // Fails before anything is initialised, so later tests still load the real library.
    OrtRuntime::load("/nonexistent/libonnxruntime.so.1");
    FAIL() << "loading a missing library must throw";
  } catch (const OrtLoadError& error) {
    EXPECT_NE(std::string(error.what()).find("/nonexistent/libonnxruntime.so.1"), std::string::npos);
  }
}

TEST(OrtRuntime, ALibraryThatIsNotOnnxRuntimeIsRefused) {
  try {
    OrtRuntime::load(LMDM_NOT_ORT_LIBRARY);
    FAIL() << "a library without OrtGetApiBase must be refused";
  } catch (const OrtLoadError& error) {
    EXPECT_NE(std::string(error.what()).find("is not ONNX Runtime"), std::string::npos) << error.what();
  }
}

TEST(OrtRuntime, LoadsTheShippedLibraryAndRunsAGraph) {
  const auto runtime = OrtRuntime::load(LMDM_ORT_LIBRARY);
  EXPECT_FALSE(runtime->version().empty());
  EXPECT_EQ(OrtRuntime::load("/ignored/after/first/load").get(), runtime.get());

  Ort::Env env(ORT_LOGGING_LEVEL_WARNING, "lmdm-test");
  Ort::SessionOptions options;
  options.SetIntraOpNumThreads(1);
  Ort::Session session(env, LMDM_FIXTURES_DIR "/scale_by_two.onnx", options);

  std::array<float, 4> input{1.0f, -2.0f, 0.5f, 3.0f};
  const std::array<int64_t, 1> shape{4};
  const auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  Ort::Value tensor = Ort::Value::CreateTensor<float>(memory, input.data(), input.size(), shape.data(), shape.size());
  const char* inputNames[] = {"x"};
  const char* outputNames[] = {"y"};
  auto outputs = session.Run(Ort::RunOptions{nullptr}, inputNames, &tensor, 1, outputNames, 1);
  const float* y = outputs[0].GetTensorData<float>();
  for (std::size_t i = 0; i < input.size(); ++i) EXPECT_EQ(y[i], 2.0f * input[i]);
}

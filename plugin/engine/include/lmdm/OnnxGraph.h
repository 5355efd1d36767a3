// One ONNX graph of a model package as an ONNX Runtime session, checked against the manifest.
//
// The session's inputs and outputs must be the ones the manifest lists, in its order, float32, with
// the same rank and the same size on every axis the manifest fixes; otherwise the constructor throws
// a PackageError that names the graph, the tensor and both shapes.
#pragma once

#include <onnxruntime_cxx_api.h>

#include <string>
#include <vector>

#include "lmdm/ModelPackage.h"

namespace lmdm {

struct SessionSettings {
  int threads = 1;
  /** "cpu", "cuda", "coreml" or "directml"; one this runtime lacks, or that fails to start, falls back
      to the CPU with a note (OnnxGraph::providerNote). */
  std::string executionProvider = "cpu";
};

/** The process-wide ONNX Runtime environment (OrtRuntime::load must have run). */
Ort::Env& ortEnvironment();

/** Execution providers this ONNX Runtime library offers, e.g. {"CUDAExecutionProvider", "CPUExecutionProvider"}. */
std::vector<std::string> availableProviders();

/** Allocates. The SessionSettings::executionProvider names this runtime offers, "cpu" first (for a host's menu). */
std::vector<std::string> selectableProviders();

class OnnxGraph {
 public:
  OnnxGraph(const ModelPackage& package, const std::string& graphName, const SessionSettings& settings);

  /** Inputs in the manifest's order; returns the outputs in the manifest's order. Allocates. */
  std::vector<Ort::Value> run(const std::vector<Ort::Value>& inputs);

  const GraphSpec& spec() const { return spec_; }
  /** The provider that runs this graph and, if another was asked for, why not. */
  const std::string& provider() const { return provider_; }
  const std::string& providerNote() const { return providerNote_; }

 private:
  void checkSignature(const std::string& graphName);
  void createSession(const std::string& file, const SessionSettings& settings);

  GraphSpec spec_;
  std::string provider_, providerNote_;
  Ort::Session session_{nullptr};
  std::vector<const char*> inputNames_, outputNames_;
};

/** A float tensor over memory the caller owns (no copy). */
Ort::Value tensorView(float* data, const std::vector<std::int64_t>& shape);

}  // namespace lmdm

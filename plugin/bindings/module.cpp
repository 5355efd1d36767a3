// lmdm._engine: the C++ engine driven from Python (tests, notebooks, offline rendering).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <stdexcept>
#include <string>

#include "lmdm/Engine.h"
#include "lmdm/LmdmModel.h"
#include "lmdm/LmdmProcessor.h"
#include "lmdm/OrtRuntime.h"
#include "lmdm/PackageFixtures.h"
#include "lmdm/PassThroughProcessor.h"
#include "lmdm/StateCodec.h"

namespace py = pybind11;
using lmdm::Engine;

namespace {

lmdm::ParameterId parameterId(const std::string& key) {
  for (const auto& spec : lmdm::kParameterSpecs)
    if (spec.key == key) return spec.id;
  throw py::key_error("unknown parameter '" + key + "'");
}

py::array_t<float> process(Engine& engine, const py::array_t<float, py::array::c_style | py::array::forcecast>& input) {
  if (input.ndim() != 2 || input.shape(0) != engine.channels())
    throw std::invalid_argument("process() takes an array of shape (channels=" + std::to_string(engine.channels()) +
                                ", frames)");
  const int channels = static_cast<int>(input.shape(0));
  const int frames = static_cast<int>(input.shape(1));
  py::array_t<float> output({input.shape(0), input.shape(1)});
  const float* inputs[Engine::kMaxChannels];
  float* outputs[Engine::kMaxChannels];
  for (int c = 0; c < channels; ++c) {
    inputs[c] = input.data(c, 0);
    outputs[c] = output.mutable_data(c, 0);
  }
  py::gil_scoped_release release;
  engine.process(inputs, outputs, frames);
  return output;
}

py::dict statsDict(const Engine& engine) {
  const auto s = engine.stats();
  py::dict d;
  d["running"] = s.running;
  d["latency_frames"] = s.latencyFrames;
  d["processor_delay_frames"] = s.processorDelayFrames;
  d["block_frames"] = s.blockFrames;
  d["headroom_frames"] = s.headroomFrames;
  d["max_buffer_frames"] = s.maxBufferFrames;
  d["largest_buffer_frames"] = s.largestBufferFrames;
  d["realtime_frames"] = s.realtimeFrames;
  d["blocks_played"] = s.blocksPlayed;
  d["blocks_missed"] = s.blocksMissed;
  d["blocks_skipped"] = s.blocksSkipped;
  d["blocks_invalid"] = s.blocksInvalid;
  d["blocks_shortened"] = s.blocksShortened;
  d["last_worker_ms"] = s.lastWorkerMillis;
  return d;
}

py::list parameterSpecs() {
  py::list specs;
  for (const auto& s : lmdm::kParameterSpecs) {
    py::dict d;
    d["key"] = std::string(s.key);
    d["label"] = std::string(s.label);
    d["min"] = s.minValue;
    d["max"] = s.maxValue;
    d["default"] = s.defaultValue;
    d["toggle"] = s.isToggle;
    specs.append(d);
  }
  return specs;
}

using Samples = py::array_t<float, py::array::c_style | py::array::forcecast>;

std::unique_ptr<lmdm::LmdmModel> openModel(const std::string& folder, int threads, const std::string& provider) {
  lmdm::OrtRuntime::load(lmdm::OrtRuntime::bundledLibraryPath());
  auto package = std::make_shared<const lmdm::ModelPackage>(lmdm::ModelPackage::load(folder));
  return std::make_unique<lmdm::LmdmModel>(package, lmdm::SessionSettings{threads, provider});
}

py::array_t<float> processBlock(lmdm::LmdmModel& model, const Samples& input) {
  if (input.ndim() != 1 || input.shape(0) != model.blockSamples())
    throw std::invalid_argument("a block is " + std::to_string(model.blockSamples()) +
                                " samples at the model rate (1-d float32)");
  py::array_t<float> output(model.blockSamples());
  {
    py::gil_scoped_release release;
    model.process(input.data(), output.mutable_data());
  }
  return output;
}

void setPrompt(lmdm::LmdmModel& model, const std::optional<Samples>& embedding) {
  if (embedding && (embedding->ndim() != 1 || embedding->shape(0) != model.package().textDim))
    throw std::invalid_argument("a prompt embedding has " + std::to_string(model.package().textDim) + " numbers");
  model.setPrompt(embedding ? embedding->data() : nullptr);
}

py::array_t<float> copyOf(const std::vector<float>& values, std::vector<py::ssize_t> shape) {
  py::array_t<float> array(shape);
  std::copy(values.begin(), values.end(), array.mutable_data());
  return array;
}

}  // namespace

PYBIND11_MODULE(_engine, m) {
  m.doc() = "The LMDM real-time engine: the generative delay over a model package, or a plain block delay.";

  py::class_<Engine>(m, "Engine")
      .def(py::init([](double blockSeconds, const std::optional<std::string>& model, int threads,
                       const std::string& provider) {
             if (model)
               return std::make_unique<Engine>(std::make_unique<lmdm::LmdmProcessor>(*model, lmdm::SessionSettings{threads, provider}));
             return std::make_unique<Engine>(std::make_unique<lmdm::PassThroughProcessor>(blockSeconds));
           }),
           py::arg("block_seconds") = 0.2, py::arg("model") = std::nullopt, py::arg("threads") = 1,
           py::arg("provider") = "cpu",
           "model: a model package folder (the generative delay); without one, a plain block delay. provider: "
           "cpu, cuda, coreml or directml (falls back to the CPU, saying why in model_status).")
      .def_property_readonly("model_status", [](const Engine& e) {
        const auto* lmdmProcessor = dynamic_cast<const lmdm::LmdmProcessor*>(&e.processor());
        return lmdmProcessor ? lmdmProcessor->status() : std::string();
      })
      .def_property_readonly("processor_name", [](const Engine& e) { return e.processor().name(); })
      .def("prepare", &Engine::prepare, py::arg("sample_rate"), py::arg("max_block_size"), py::arg("channels"),
           py::call_guard<py::gil_scoped_release>())
      .def("release", &Engine::release, py::call_guard<py::gil_scoped_release>())
      .def("process", &process, py::arg("input"),
           "Processes (channels, frames) float32 audio; returns the output of the same shape.")
      .def("set_non_realtime", &Engine::setNonRealtime, py::arg("non_realtime"))
      .def("set_parameter", [](Engine& e, const std::string& key, float v) { e.setParameter(parameterId(key), v); })
      .def("parameter", [](const Engine& e, const std::string& key) { return e.parameter(parameterId(key)); })
      .def_property_readonly("latency_frames", &Engine::latencyFrames)
      .def_property_readonly("block_frames", &Engine::blockFrames)
      .def_property_readonly("channels", &Engine::channels)
      .def("stats", &statsDict);

  py::register_exception<lmdm::PackageError>(m, "PackageError", PyExc_ValueError);
  py::class_<lmdm::LmdmModel>(m, "LmdmModel", "The LMDM over a model package at the model rate (lmdm.streaming.live.LiveDelay's twin).")
      .def(py::init(&openModel), py::arg("folder"), py::arg("threads") = 1, py::arg("provider") = "cpu",
           py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("block_samples", &lmdm::LmdmModel::blockSamples)
      .def_property_readonly("sample_rate", [](const lmdm::LmdmModel& m) { return m.package().sampleRate; })
      .def_property_readonly("provider", &lmdm::LmdmModel::provider)
      .def_property_readonly("provider_note", &lmdm::LmdmModel::providerNote)
      .def_property_readonly("prompt_names", [](const lmdm::LmdmModel& m) {
        std::vector<std::string> names;
        for (const auto& p : m.package().prompts) names.push_back(p.name);
        return names;
      })
      .def("prompt_embedding", [](const lmdm::LmdmModel& m, std::size_t index) {
        return copyOf(m.package().prompts.at(index).embedding, {static_cast<py::ssize_t>(m.package().textDim)});
      })
      .def("restart", &lmdm::LmdmModel::restart, py::arg("seed"), py::arg("keep_decoder_state") = false,
           py::call_guard<py::gil_scoped_release>())
      .def("set_settings", [](lmdm::LmdmModel& m, int steps, float guidance, std::array<bool, 3> follow, int smoothing) {
             m.setSettings(lmdm::GenerationSettings{steps, guidance, follow, smoothing});
           }, py::arg("steps") = 0, py::arg("guidance") = 0.0f, py::arg("follow") = std::array<bool, 3>{true, true, true},
           py::arg("smoothing") = 1)
      .def("set_prompt", &setPrompt, py::arg("embedding"))
      .def("process", &processBlock, py::arg("block"), "One block of model-rate audio in, one block out.")
      .def_property_readonly("last_latents", [](const lmdm::LmdmModel& m) {
        const auto& p = m.package();
        return copyOf(m.lastLatents(), {p.blockFrames, p.latentDim});
      })
      .def_property_readonly("last_controls", [](const lmdm::LmdmModel& m) {
        return copyOf(m.lastControls(), {2, m.package().blockFrames, 3});
      });

  m.def("check_fixtures", [](const std::string& folder) {
        lmdm::OrtRuntime::load(lmdm::OrtRuntime::bundledLibraryPath());
        return lmdm::checkFixtures(lmdm::ModelPackage::load(folder));
      }, py::arg("folder"), py::call_guard<py::gil_scoped_release>(),
      "Runs each graph on its golden fixture; returns the worst error per graph (PackageError beyond tolerance).");
  m.def("selectable_providers", [] {
    lmdm::OrtRuntime::load(lmdm::OrtRuntime::bundledLibraryPath());
    return lmdm::selectableProviders();
  }, "Execution providers this ONNX Runtime offers, as SessionSettings names ('cpu' first).");
  m.def("parameter_specs", &parameterSpecs, "The parameter table shared with the plugin.");
  m.def("encode_state", [](float mix, float feedback, bool bypass) {
    return py::bytes(lmdm::encodeState(lmdm::ParameterValues::mixing(mix, feedback, bypass)));
  });
}

// lmdm._engine: the C++ engine driven from Python (tests, notebooks, offline rendering).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>

#include "lmdm/Engine.h"
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
  d["block_frames"] = s.blockFrames;
  d["blocks_played"] = s.blocksPlayed;
  d["blocks_missed"] = s.blocksMissed;
  d["blocks_skipped"] = s.blocksSkipped;
  d["blocks_invalid"] = s.blocksInvalid;
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

}  // namespace

PYBIND11_MODULE(_engine, m) {
  m.doc() = "The LMDM real-time engine (pass-through model: a plain block delay).";

  py::class_<Engine>(m, "Engine")
      .def(py::init([](double blockSeconds) {
             return std::make_unique<Engine>(std::make_unique<lmdm::PassThroughProcessor>(blockSeconds));
           }),
           py::arg("block_seconds") = 0.2)
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

  m.def("parameter_specs", &parameterSpecs, "The parameter table shared with the plugin.");
  m.def("encode_state", [](float mix, float feedback, bool bypass) {
    return py::bytes(lmdm::encodeState(lmdm::ParameterValues{mix, feedback, bypass}));
  });
}

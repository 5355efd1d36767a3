// The engine's user parameters: one table that the plugin, the state codec, the headless host and
// the Python bindings all read, so ids, ranges and defaults are written down once.
#pragma once

#include <array>
#include <string_view>

namespace lmdm {

enum class ParameterId { Mix = 0, Feedback = 1, Bypass = 2 };

struct ParameterSpec {
  ParameterId id;
  std::string_view key;    // stable id used in saved state and by hosts
  std::string_view label;  // shown to the user
  float minValue;
  float maxValue;
  float defaultValue;
  bool isToggle;
};

inline constexpr std::array<ParameterSpec, 3> kParameterSpecs{{
    {ParameterId::Mix, "mix", "Mix", 0.0f, 1.0f, 0.5f, false},
    // Below 1 so the feedback loop always decays.
    {ParameterId::Feedback, "feedback", "Feedback", 0.0f, 0.95f, 0.35f, false},
    {ParameterId::Bypass, "bypass", "Bypass", 0.0f, 1.0f, 0.0f, true},
}};

inline constexpr const ParameterSpec& spec(ParameterId id) { return kParameterSpecs[static_cast<int>(id)]; }

/** A full set of parameter values (plain values, within each spec's range). */
struct ParameterValues {
  float mix = spec(ParameterId::Mix).defaultValue;
  float feedback = spec(ParameterId::Feedback).defaultValue;
  bool bypass = spec(ParameterId::Bypass).defaultValue > 0.5f;
};

/** The plain value of one parameter in a set (toggles as 0 or 1). */
inline float valueOf(const ParameterValues& values, ParameterId id) {
  switch (id) {
    case ParameterId::Mix: return values.mix;
    case ParameterId::Feedback: return values.feedback;
    case ParameterId::Bypass: return values.bypass ? 1.0f : 0.0f;
  }
  return 0.0f;
}

/** Sets one parameter in a set from a plain value (toggles: on at >= 0.5). No clamping. */
inline void assign(ParameterValues& values, ParameterId id, float value) {
  switch (id) {
    case ParameterId::Mix: values.mix = value; break;
    case ParameterId::Feedback: values.feedback = value; break;
    case ParameterId::Bypass: values.bypass = value >= 0.5f; break;
  }
}

}  // namespace lmdm

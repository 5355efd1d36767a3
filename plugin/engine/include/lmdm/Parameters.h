// The engine's user parameters: one table that the plugin, the state codec, the headless host and
// the Python bindings all read, so ids, ranges and defaults are written down once.
//
// Mix, feedback and bypass act on the audio thread; the rest steer the model and reach the worker
// once per block (BlockIO::parameters), so a change is heard from the next block on.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace lmdm {

enum class ParameterId {
  Mix, Feedback, Bypass,
  PromptA, PromptB, Morph, Guidance, Steps,
  FollowLoudness, FollowBrightness, FollowPitch, Smoothing,
  Seed, Freeze, Continue,
  WetGain,
};

struct ParameterSpec {
  ParameterId id;
  std::string_view key;    // stable id used in saved state and by hosts
  std::string_view label;  // shown to the user
  float minValue;
  float maxValue;
  float defaultValue;
  bool isToggle;
  bool isInteger = false;
  std::string_view unit = "";  // shown beside the value, e.g. "dB"
  std::string_view minimumText = "";  // shown instead of the value at the minimum, when it means something else
};

inline constexpr int kMaxPrompts = 16;  // prompt slots a parameter can name; a package may fill fewer

inline constexpr std::array<ParameterSpec, 16> kParameterSpecs{{
    {ParameterId::Mix, "mix", "Mix", 0.0f, 1.0f, 0.5f, false},
    // Below 1 so the feedback loop always decays.
    {ParameterId::Feedback, "feedback", "Feedback", 0.0f, 0.95f, 0.35f, false},
    {ParameterId::Bypass, "bypass", "Bypass", 0.0f, 1.0f, 0.0f, true},
    {ParameterId::PromptA, "prompt_a", "Prompt A", 0.0f, kMaxPrompts - 1.0f, 0.0f, false, true},
    {ParameterId::PromptB, "prompt_b", "Prompt B", 0.0f, kMaxPrompts - 1.0f, 1.0f, false, true},
    {ParameterId::Morph, "morph", "Morph", 0.0f, 1.0f, 0.0f, false},
    // At 0, guidance and steps are the package's own (manifest stream.default_guidance / default_steps):
    // 2 and 8 for a flow-matching package, 1 and 2 for an ARC-Forcing one, which samples differently.
    {ParameterId::Guidance, "guidance", "Guidance", 0.0f, 6.0f, 0.0f, false, false, "", "package default"},
    {ParameterId::Steps, "steps", "Steps", 0.0f, 32.0f, 0.0f, false, true, "", "package default"},
    {ParameterId::FollowLoudness, "follow_loudness", "Follow loudness", 0.0f, 1.0f, 1.0f, true},
    {ParameterId::FollowBrightness, "follow_brightness", "Follow brightness", 0.0f, 1.0f, 1.0f, true},
    {ParameterId::FollowPitch, "follow_pitch", "Follow pitch", 0.0f, 1.0f, 1.0f, true},
    // Median width in control frames (23 ms each): 1 follows every detail, 17 only the broad gesture.
    {ParameterId::Smoothing, "smoothing", "Smoothing", 1.0f, 17.0f, 1.0f, false, true},
    {ParameterId::Seed, "seed", "Seed", 0.0f, 9999.0f, 0.0f, false, true},
    // Freeze: the input is ignored and the last block's controls are held.
    {ParameterId::Freeze, "freeze", "Freeze", 0.0f, 1.0f, 0.0f, true},
    // Continue: no control follows the input; the model keeps playing from its own context.
    {ParameterId::Continue, "continue", "Continue", 0.0f, 1.0f, 0.0f, true},
    // Level of the generated signal in the output (not in the feedback path): the model plays at its
    // training data's level, often well below a guitar's.
    {ParameterId::WetGain, "wet_gain", "Wet gain", -24.0f, 24.0f, 0.0f, false, false, "dB"},
}};

inline constexpr int kParameterCount = static_cast<int>(kParameterSpecs.size());

inline constexpr const ParameterSpec& spec(ParameterId id) { return kParameterSpecs[static_cast<std::size_t>(id)]; }

/** A full set of parameter values (plain values, within each spec's range; toggles as 0 or 1), one
    store by id for the engine's own three (mix, feedback, bypass) and the model's alike. */
struct ParameterValues {
  std::array<float, kParameterCount> byId = defaults();

  static constexpr std::array<float, kParameterCount> defaults() {
    std::array<float, kParameterCount> values{};
    for (const auto& s : kParameterSpecs) values[static_cast<std::size_t>(s.id)] = s.defaultValue;
    return values;
  }
  /** The defaults with the engine's own three set. */
  static ParameterValues mixing(float mix, float feedback, bool bypass) {
    ParameterValues values;
    values.byId[static_cast<std::size_t>(ParameterId::Mix)] = mix;
    values.byId[static_cast<std::size_t>(ParameterId::Feedback)] = feedback;
    values.byId[static_cast<std::size_t>(ParameterId::Bypass)] = bypass ? 1.0f : 0.0f;
    return values;
  }
  float operator[](ParameterId id) const { return byId[static_cast<std::size_t>(id)]; }
  bool on(ParameterId id) const { return (*this)[id] >= 0.5f; }
  float mix() const { return (*this)[ParameterId::Mix]; }
  float feedback() const { return (*this)[ParameterId::Feedback]; }
  bool bypass() const { return on(ParameterId::Bypass); }
};

/** The plain value of one parameter in a set (toggles as 0 or 1). */
inline float valueOf(const ParameterValues& values, ParameterId id) { return values[id]; }

/** Sets one parameter in a set from a plain value (toggles: on at >= 0.5; integers rounded). No clamping. */
inline void assign(ParameterValues& values, ParameterId id, float value) {
  if (spec(id).isToggle) value = value >= 0.5f ? 1.0f : 0.0f;
  if (spec(id).isInteger) value = static_cast<float>(static_cast<long>(value + (value >= 0.0f ? 0.5f : -0.5f)));
  values.byId[static_cast<std::size_t>(id)] = value;
}

}  // namespace lmdm

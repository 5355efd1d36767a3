// Saved plugin state: a small versioned text format for the parameter values.
//
// Hosts hand back whatever bytes they stored, possibly from another version or corrupted. Decoding
// never throws: an unrecognised header gives the defaults, a bad or out-of-range value falls back to
// (or is clamped into) its parameter's range, and unknown keys are ignored for forward compatibility.
#pragma once

#include <cstddef>
#include <string>

#include "lmdm/Parameters.h"

namespace lmdm {

struct DecodedState {
  ParameterValues values;
  bool recognised = false;  // false: the bytes were not LMDM state; `values` are the defaults
};

/** Allocates. */
std::string encodeState(const ParameterValues& values);

/** Allocates; never throws on bad input. */
DecodedState decodeState(const void* data, std::size_t size);

}  // namespace lmdm

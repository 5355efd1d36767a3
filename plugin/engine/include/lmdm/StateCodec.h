// Saved plugin state: a small versioned text format for the parameter values and the session's
// choices around them (which model package, which execution provider).
//
// Hosts hand back whatever bytes they stored, possibly from another version or corrupted. Decoding
// never throws: an unrecognised header gives the defaults, a bad or out-of-range value falls back to
// (or is clamped into) its parameter's range, a session line that cannot be one is dropped, and
// unknown keys are ignored for forward compatibility.
#pragma once

#include <cstddef>
#include <string>

#include "lmdm/Parameters.h"

namespace lmdm {

/** What a session chose beyond the parameters; empty strings mean "not chosen". */
struct SessionChoices {
  std::string modelFolder;  // the package folder as the user picked it (the plugin checks it still exists)
  std::string provider;     // an execution provider's SessionSettings name: lower-case letters only
};

struct DecodedState {
  ParameterValues values;
  SessionChoices session;
  bool recognised = false;  // false: the bytes were not LMDM state; `values` are the defaults
};

/** Allocates. A choice that could not decode back (a line break in a folder, a provider that is not
 *  a name) is left out rather than written. */
std::string encodeState(const ParameterValues& values, const SessionChoices& session = {});

/** Allocates; never throws on bad input. */
DecodedState decodeState(const void* data, std::size_t size);

}  // namespace lmdm

#include "lmdm/StateCodec.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <locale>
#include <sstream>

namespace lmdm {
namespace {

constexpr const char* kHeader = "LMDM-STATE 1";
constexpr std::size_t kMaxStateBytes = 1 << 16;  // ours is ~60 bytes plus a path; anything huge is not ours
constexpr const char* kModelFolderKey = "model_folder";
constexpr const char* kProviderKey = "provider";

// Numbers are written and read in the classic "C" locale: a host may have set one whose decimal
// separator is a comma, and state saved there must load everywhere.
bool parseFloat(const std::string& text, float& out) {
  std::istringstream in(text);
  in.imbue(std::locale::classic());
  double value = 0.0;
  in >> value;
  // beyond float's range the conversion below would be undefined; no parameter reaches that far
  if (in.fail() || !in.eof() || !(std::fabs(value) <= std::numeric_limits<float>::max())) return false;
  out = static_cast<float>(value);
  return true;
}

bool isProviderName(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

bool isSingleLine(const std::string& text) { return text.find_first_of("\r\n") == std::string::npos; }

}  // namespace

std::string encodeState(const ParameterValues& values, const SessionChoices& session) {
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out.precision(9);
  out << kHeader << '\n';
  for (const auto& s : kParameterSpecs) out << s.key << '=' << valueOf(values, s.id) << '\n';
  if (!session.modelFolder.empty() && isSingleLine(session.modelFolder))
    out << kModelFolderKey << '=' << session.modelFolder << '\n';
  if (isProviderName(session.provider)) out << kProviderKey << '=' << session.provider << '\n';
  return out.str();
}

DecodedState decodeState(const void* data, std::size_t size) {
  DecodedState result;
  if (data == nullptr || size == 0 || size > kMaxStateBytes) return result;
  std::istringstream in(std::string(static_cast<const char*>(data), size));
  std::string line;
  if (!std::getline(in, line) || line != kHeader) return result;
  result.recognised = true;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq);
    const std::string text = line.substr(eq + 1);
    if (key == kModelFolderKey) result.session.modelFolder = text;
    if (key == kProviderKey && isProviderName(text)) result.session.provider = text;
    for (const auto& s : kParameterSpecs) {
      float value = 0.0f;
      if (key != s.key || !parseFloat(text, value)) continue;
      assign(result.values, s.id, std::clamp(value, s.minValue, s.maxValue));
    }
  }
  return result;
}

}  // namespace lmdm

#include "LatencyReport.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

namespace lmdm::tools {
namespace {

std::string jsonString(const std::string& text) {
  std::string out = "\"";
  for (char ch : text) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

void writePercentiles(std::ostringstream& out, const char* name, const Percentiles& p) {
  out << "  \"" << name << "\": {\"p50\": " << p.p50 << ", \"p99\": " << p.p99 << ", \"max\": " << p.max
      << ", \"mean\": " << p.mean << ", \"count\": " << p.count << "},\n";
}

/** The calls that took longer than the buffer period, i.e. a real sound card would have glitched. */
void writeOverruns(std::ostringstream& out, const RunReport& r) {
  const double budgetMicros = 1e6 * r.bufferSize / r.sampleRate;
  std::size_t count = 0;
  std::string when;
  for (std::size_t i = 0; i < r.callbackMicros.size(); ++i)
    if (r.callbackMicros[i] > budgetMicros && count++ < 20) {
      std::ostringstream at;
      at.precision(4);
      at << (when.empty() ? "" : ", ") << r.callbackStartSeconds[i];
      when += at.str();
    }
  out << "  \"callbacks_over_budget\": " << count << ",\n"
      << "  \"callbacks_over_budget_at_seconds\": [" << when << "],\n";
}

}  // namespace

Percentiles percentiles(std::vector<double> values) {
  Percentiles p;
  p.count = values.size();
  if (values.empty()) return p;
  std::sort(values.begin(), values.end());
  const auto rank = [&](double q) {
    const auto index = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size()))) - 1;
    return values[std::min(index, values.size() - 1)];
  };
  p.p50 = rank(0.50);
  p.p99 = rank(0.99);
  p.max = values.back();
  p.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  return p;
}

std::string toJson(const RunReport& r) {
  const double blockSeconds = r.stats.blockFrames / r.sampleRate;
  const Percentiles worker = percentiles(r.workerMillis);
  std::ostringstream out;
  out.precision(6);
  out << "{\n"
      << "  \"input\": " << jsonString(r.input) << ",\n"
      << "  \"pace\": " << jsonString(r.pace) << ",\n"
      << "  \"processor\": " << jsonString(r.processor) << ",\n"
      << "  \"provider\": " << jsonString(r.provider) << ",\n"
      << "  \"sample_rate\": " << r.sampleRate << ",\n"
      << "  \"channels\": " << r.channels << ",\n"
      << "  \"buffer_size\": " << r.bufferSize << ",\n"
      << "  \"varying_buffers\": " << (r.varyingBuffers ? "true" : "false") << ",\n"
      << "  \"audio_seconds\": " << r.audioSeconds << ",\n"
      << "  \"wall_seconds\": " << r.wallSeconds << ",\n"
      << "  \"audio_thread_scheduling\": " << jsonString(r.audioThreadScheduling) << ",\n"
      << "  \"block_frames\": " << r.stats.blockFrames << ",\n"
      << "  \"headroom_frames\": " << r.stats.headroomFrames << ",\n"
      << "  \"latency_frames\": " << r.stats.latencyFrames << ",\n"
      << "  \"latency_ms\": " << 1000.0 * r.stats.latencyFrames / r.sampleRate << ",\n"
      << "  \"processor_delay_frames\": " << r.stats.processorDelayFrames << ",\n"
      << "  \"callback_budget_us\": " << 1e6 * r.bufferSize / r.sampleRate << ",\n";
  writePercentiles(out, "audio_thread_us", percentiles(r.callbackMicros));
  writeOverruns(out, r);
  writePercentiles(out, "worker_ms", worker);
  out << "  \"worker_realtime_factor_p50\": " << worker.p50 / (1000.0 * blockSeconds) << ",\n"
      << "  \"blocks_played\": " << r.stats.blocksPlayed << ",\n"
      << "  \"blocks_missed\": " << r.stats.blocksMissed << ",\n"
      << "  \"blocks_skipped\": " << r.stats.blocksSkipped << ",\n"
      << "  \"blocks_invalid\": " << r.stats.blocksInvalid << ",\n"
      << "  \"blocks_shortened\": " << r.stats.blocksShortened << "\n"
      << "}\n";
  return out.str();
}

}  // namespace lmdm::tools

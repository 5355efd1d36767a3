// lmdm_host: a headless host for the engine. Renders an audio file through it in host-sized
// buffers, either paced like a sound card (real time: misses are real) or as fast as possible
// (offline: the engine waits, output is exact), and reports timing as JSON.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include "AudioFile.h"
#include "LatencyReport.h"
#include "RealtimePriority.h"
#include "Soak.h"
#include "lmdm/Engine.h"
#include "lmdm/LmdmProcessor.h"
#include "lmdm/PassThroughProcessor.h"

namespace {

using namespace lmdm;
using Clock = std::chrono::steady_clock;

constexpr const char* kUsage = R"(usage: lmdm_host render INPUT OUTPUT [options]
       lmdm_host soak INPUT --model PACKAGE [soak options]

Renders INPUT through the LMDM engine into OUTPUT (WAV float, or FLAC by extension).
  --buffer N          host buffer size in frames (default 256; 1..8192)
  --varying-buffers   each call gets a random size in 1..N (seeded, reproducible)
  --pace MODE         realtime: callbacks paced like a sound card, late blocks are missed (default)
                      offline: as fast as possible, the engine waits for every block
  --model PACKAGE     run the generative delay with this model package (default: a plain block delay)
  --threads N         ONNX Runtime threads for the model (default 1)
  --provider NAME     execution provider: cpu (default), cuda, coreml, directml; one this runtime
                      lacks falls back to the CPU with a note on stderr
  --mix X --feedback X --bypass
                      parameter values (defaults from the plugin)
  --set KEY=VALUE     any parameter by its key (e.g. --set prompt_a=3 --set steps=4); repeatable
  --rt-priority P     run the audio loop at SCHED_FIFO priority P (1..99), as a sound-card thread runs;
                      the report says whether it was granted (default: normal scheduling)
  --tail SECONDS      silence appended so feedback echoes ring out (default 2)
  --min-seconds S     loop the input until at least S seconds were processed (benchmarks)
  --keep-latency      keep the reported latency at the start of OUTPUT (default: trimmed, as a DAW does)
  --report PATH       write the JSON timing report to PATH (default: stdout)

Soaks the engine as a long DAW session would (bench/soak_bench.py): INPUT looped, nothing written
but the JSON report (callbacks, reloads, misses, non-finite samples, resident memory over time).
  --seconds S         audio to process (default 60)
  --pace MODE         realtime (default) or offline, as above
  --buffer N          the first buffer size (default 256)
  --reload-seconds R  load the package again this often, as the plugin swaps it (default 300; 0 never)
  --resize-seconds Z  re-prepare with another buffer size this often (default 60; 0 never)
  --warm-up-seconds W --warm-up-reload-seconds Q
                      reload every Q seconds (default 20) for the first W (default 0): the allocator's
                      fill, before the memory slope is read
  --no-automate       keep the parameters still (default: two random changes every callback)
  --threads N --provider NAME --rt-priority P --report PATH   as above
)";

struct Options {
  std::string input, output, reportPath, model, pace = "realtime", provider = "cpu";
  int buffer = 256, threads = 1, realtimePriority = 0;
  bool varying = false, keepLatency = false;
  double tailSeconds = 2.0, minSeconds = 0.0;
  ParameterValues parameters;
};

double parseNumber(const std::string& flag, const char* text) {
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  if (*text == '\0' || *end != '\0') throw std::invalid_argument(flag + " needs a number, got '" + text + "'");
  return value;
}

void setParameter(ParameterValues& values, const std::string& assignment) {
  const auto eq = assignment.find('=');
  const std::string key = assignment.substr(0, eq);
  for (const auto& s : kParameterSpecs)
    if (eq != std::string::npos && s.key == key) {
      const float value = static_cast<float>(parseNumber("--set " + key, assignment.c_str() + eq + 1));
      assign(values, s.id, std::clamp(value, s.minValue, s.maxValue));
      return;
    }
  throw std::invalid_argument("--set takes KEY=VALUE with a parameter key (see the plugin's parameters), got '" +
                              assignment + "'");
}

std::unique_ptr<BlockProcessor> makeProcessor(const Options& o) {
  if (o.model.empty()) return std::make_unique<PassThroughProcessor>();
  auto processor = std::make_unique<LmdmProcessor>(o.model, SessionSettings{o.threads, o.provider});
  if (!processor->ready()) throw std::runtime_error(processor->status());
  if (!processor->status().empty()) std::cerr << "lmdm_host: " << processor->status() << "\n";
  return processor;
}

Options parseArguments(int argc, char** argv) {
  if (argc < 4 || std::string(argv[1]) != "render") throw std::invalid_argument("expected: render INPUT OUTPUT");
  Options o;
  o.input = argv[2];
  o.output = argv[3];
  for (int i = 4; i < argc; ++i) {
    const std::string flag = argv[i];
    const auto value = [&]() -> const char* {
      if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--buffer") o.buffer = static_cast<int>(parseNumber(flag, value()));
    else if (flag == "--varying-buffers") o.varying = true;
    else if (flag == "--pace") o.pace = value();
    else if (flag == "--mix") assign(o.parameters, ParameterId::Mix, static_cast<float>(parseNumber(flag, value())));
    else if (flag == "--feedback") assign(o.parameters, ParameterId::Feedback, static_cast<float>(parseNumber(flag, value())));
    else if (flag == "--bypass") assign(o.parameters, ParameterId::Bypass, 1.0f);
    else if (flag == "--model") o.model = value();
    else if (flag == "--threads") o.threads = static_cast<int>(parseNumber(flag, value()));
    else if (flag == "--provider") o.provider = value();
    else if (flag == "--set") setParameter(o.parameters, value());
    else if (flag == "--rt-priority") o.realtimePriority = static_cast<int>(parseNumber(flag, value()));
    else if (flag == "--tail") o.tailSeconds = parseNumber(flag, value());
    else if (flag == "--min-seconds") o.minSeconds = parseNumber(flag, value());
    else if (flag == "--keep-latency") o.keepLatency = true;
    else if (flag == "--report") o.reportPath = value();
    else throw std::invalid_argument("unknown option " + flag);
  }
  if (o.buffer < 1 || o.buffer > 8192) throw std::invalid_argument("--buffer must be within 1..8192");
  if (o.realtimePriority < 0 || o.realtimePriority > 99) throw std::invalid_argument("--rt-priority must be within 0..99");
  if (o.pace != "realtime" && o.pace != "offline") throw std::invalid_argument("--pace is realtime or offline");
  return o;
}

/** The input looped to at least `minSeconds`, then `tailSeconds` of silence. */
tools::AudioData programme(const tools::AudioData& input, double minSeconds, double tailSeconds) {
  if (input.frames() == 0) throw std::runtime_error("the input file has no audio");
  tools::AudioData out{input.sampleRate, std::vector<std::vector<float>>(input.channels.size())};
  const auto minFrames = static_cast<std::size_t>(minSeconds * input.sampleRate);
  for (std::size_t c = 0; c < input.channels.size(); ++c) {
    auto& channel = out.channels[c];
    do channel.insert(channel.end(), input.channels[c].begin(), input.channels[c].end());
    while (channel.size() < minFrames);
    channel.resize(channel.size() + static_cast<std::size_t>(tailSeconds * input.sampleRate), 0.0f);
  }
  return out;
}

tools::RunReport render(const Options& o, const tools::AudioData& in, tools::AudioData& out) {
  const int channels = static_cast<int>(in.channels.size());
  Engine engine(makeProcessor(o));
  engine.setParameters(o.parameters);
  engine.setNonRealtime(o.pace == "offline");
  engine.prepare(in.sampleRate, o.buffer, channels);

  tools::RunReport report;
  report.input = o.input;
  report.processor = engine.processor().name();
  if (const auto* lmdm = dynamic_cast<const LmdmProcessor*>(&engine.processor()); lmdm && lmdm->model())
    report.provider = lmdm->model()->provider();
  report.pace = o.pace;
  report.sampleRate = in.sampleRate;
  report.channels = channels;
  report.bufferSize = o.buffer;
  report.varyingBuffers = o.varying;
  report.audioSeconds = in.frames() / in.sampleRate;
  // After prepare(): the engine's worker thread keeps normal scheduling, as a plugin's worker does.
  report.audioThreadScheduling = o.realtimePriority > 0 ? tools::requestRealtimePriority(o.realtimePriority) : "SCHED_OTHER";

  out = tools::AudioData{in.sampleRate, std::vector<std::vector<float>>(channels, std::vector<float>(in.frames()))};
  std::mt19937 random(1234);
  std::uniform_int_distribution<int> sizes(1, o.buffer);
  std::vector<float> workerMillis(4096);
  // Sized up front so that growing them never delays the paced loop.
  const std::size_t expectedCalls = in.frames() / std::max(1, o.varying ? o.buffer / 4 : o.buffer) + 1;
  report.callbackMicros.reserve(expectedCalls);
  report.callbackStartSeconds.reserve(expectedCalls);
  const float* inputs[Engine::kMaxChannels];
  float* outputs[Engine::kMaxChannels];
  const auto start = Clock::now();
  for (int position = 0; position < in.frames();) {
    const int frames = std::min(o.varying ? sizes(random) : o.buffer, in.frames() - position);
    for (int c = 0; c < channels; ++c) {
      inputs[c] = in.channels[c].data() + position;
      outputs[c] = out.channels[c].data() + position;
    }
    // A sound card calls back once a whole buffer has been captured.
    if (o.pace == "realtime")
      std::this_thread::sleep_until(start + std::chrono::duration<double>((position + frames) / in.sampleRate));
    const auto before = Clock::now();
    engine.process(inputs, outputs, frames);
    report.callbackMicros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - before).count());
    report.callbackStartSeconds.push_back(position / in.sampleRate);
    position += frames;
    const std::size_t drained = engine.drainWorkerMillis(workerMillis.data(), workerMillis.size());
    report.workerMillis.insert(report.workerMillis.end(), workerMillis.begin(), workerMillis.begin() + drained);
  }
  report.wallSeconds = std::chrono::duration<double>(Clock::now() - start).count();
  report.stats = engine.stats();
  engine.release();
  const std::size_t drained = engine.drainWorkerMillis(workerMillis.data(), workerMillis.size());
  report.workerMillis.insert(report.workerMillis.end(), workerMillis.begin(), workerMillis.begin() + drained);
  return report;
}

}  // namespace

tools::SoakOptions parseSoakArguments(int argc, char** argv, std::string& input, std::string& reportPath) {
  tools::SoakOptions o;
  input = argv[2];
  for (int i = 3; i < argc; ++i) {
    const std::string flag = argv[i];
    const auto value = [&]() -> const char* {
      if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--model") o.model = value();
    else if (flag == "--seconds") o.seconds = parseNumber(flag, value());
    else if (flag == "--pace") o.realtime = std::string(value()) != "offline";
    else if (flag == "--buffer") o.buffer = static_cast<int>(parseNumber(flag, value()));
    else if (flag == "--reload-seconds") o.reloadSeconds = parseNumber(flag, value());
    else if (flag == "--resize-seconds") o.resizeSeconds = parseNumber(flag, value());
    else if (flag == "--warm-up-seconds") o.warmUpSeconds = parseNumber(flag, value());
    else if (flag == "--warm-up-reload-seconds") o.warmUpReloadSeconds = parseNumber(flag, value());
    else if (flag == "--no-automate") o.automate = false;
    else if (flag == "--rt-priority") o.realtimePriority = static_cast<int>(parseNumber(flag, value()));
    else if (flag == "--threads") o.session.threads = static_cast<int>(parseNumber(flag, value()));
    else if (flag == "--provider") o.session.executionProvider = value();
    else if (flag == "--report") reportPath = value();
    else throw std::invalid_argument("unknown soak option " + flag);
  }
  if (o.model.empty()) throw std::invalid_argument("soak needs --model PACKAGE");
  if (o.realtimePriority < 0 || o.realtimePriority > 99) throw std::invalid_argument("--rt-priority must be within 0..99");
  if (o.warmUpSeconds < 0 || o.warmUpReloadSeconds < 0) throw std::invalid_argument("the warm-up's seconds must not be negative");
  if (!(o.seconds > 0) || o.buffer < 1 || o.buffer > 8192) throw std::invalid_argument("soak needs --seconds > 0 and --buffer in 1..8192");
  return o;
}

int soak(int argc, char** argv) {
  std::string input, reportPath;
  const tools::SoakOptions options = parseSoakArguments(argc, argv, input, reportPath);
  const tools::SoakReport report = tools::runSoak(tools::readAudio(input), options);
  const std::string json = tools::toJson(report, options);
  if (reportPath.empty()) std::cout << json;
  else std::ofstream(reportPath) << json;
  return 0;
}

int main(int argc, char** argv) {
  try {
    if (argc >= 3 && std::string(argv[1]) == "soak") return soak(argc, argv);
    const Options options = parseArguments(argc, argv);
    const tools::AudioData source = tools::readAudio(options.input);
    const tools::AudioData input = programme(source, options.minSeconds, options.tailSeconds);
    tools::AudioData output;
    const tools::RunReport report = render(options, input, output);
    if (!options.keepLatency)
      for (auto& channel : output.channels)
        channel.erase(channel.begin(), channel.begin() + std::min<std::size_t>(channel.size(), report.stats.latencyFrames));
    tools::writeAudio(options.output, output);

    const std::string json = tools::toJson(report);
    if (options.reportPath.empty()) {
      std::cout << json;
    } else {
      std::ofstream(options.reportPath) << json;
      std::cerr << "lmdm_host: wrote " << options.output << " and " << options.reportPath << "\n";
    }
    return 0;
  } catch (const std::invalid_argument& error) {
    std::cerr << "lmdm_host: " << error.what() << "\n\n" << kUsage;
    return 2;
  } catch (const std::exception& error) {
    std::cerr << "lmdm_host: " << error.what() << "\n";
    return 1;
  }
}

#include "PluginProcessor.h"

#include <cmath>
#include <cstdlib>

#include "PluginEditor.h"
#include "lmdm/LmdmProcessor.h"
#include "lmdm/OrtRuntime.h"
#include "lmdm/StateCodec.h"

namespace {

// The model package the plugin starts with: $LMDM_MODEL if set, else the one the build placed in the
// bundle (beside the binary, or in the bundle's Resources folder).
std::string defaultModelFolder() {
  if (const char* chosen = std::getenv("LMDM_MODEL")) return chosen;
  const juce::File binary = juce::File::getSpecialLocation(juce::File::currentExecutableFile);
  const juce::File here = juce::File(lmdm::OrtRuntime::bundledLibraryPath()).getParentDirectory();
  for (const auto& candidate : {here.getChildFile("model"), here.getSiblingFile("Resources").getChildFile("model"),
                                binary.getSiblingFile("model")})
    if (candidate.getChildFile("manifest.json").existsAsFile()) return candidate.getFullPathName().toStdString();
  return here.getChildFile("model").getFullPathName().toStdString();
}

juce::String defaultProvider() {
  const char* chosen = std::getenv("LMDM_PROVIDER");
  return chosen ? juce::String(chosen) : juce::String("cpu");
}

std::unique_ptr<lmdm::LmdmProcessor> makeProcessor(juce::String& runtimeStatus, const juce::String& provider) {
  // The model needs ONNX Runtime; without it the processor reports why and passes audio through.
  try {
    const auto runtime = lmdm::OrtRuntime::load(lmdm::OrtRuntime::bundledLibraryPath());
    runtimeStatus = "ONNX Runtime " + juce::String(runtime->version());
  } catch (const std::exception& error) {
    runtimeStatus = juce::String("ONNX Runtime unavailable: ") + error.what();
  }
  return std::make_unique<lmdm::LmdmProcessor>(defaultModelFolder(), lmdm::SessionSettings{1, provider.toStdString()});
}

}  // namespace

LmdmAudioProcessor::LmdmAudioProcessor()
    : AudioProcessor(BusesProperties()
                         .withInput("Input", juce::AudioChannelSet::stereo(), true)
                         .withOutput("Output", juce::AudioChannelSet::stereo(), true)),
      parameters_(*this, nullptr, "LMDM", createLayout()),
      provider_(defaultProvider()),
      engine_(makeProcessor(runtimeStatus_, provider_)) {
  for (const auto& spec : lmdm::kParameterSpecs)
    parameterValues_[static_cast<std::size_t>(spec.id)] = parameters_.getRawParameterValue(toJuce(spec.key));
}

LmdmAudioProcessor::~LmdmAudioProcessor() { engine_.release(); }

juce::AudioProcessorValueTreeState::ParameterLayout LmdmAudioProcessor::createLayout() {
  juce::AudioProcessorValueTreeState::ParameterLayout layout;
  for (const auto& spec : lmdm::kParameterSpecs) {
    const juce::ParameterID id{toJuce(spec.key), 1};
    if (spec.isToggle)
      layout.add(std::make_unique<juce::AudioParameterBool>(id, toJuce(spec.label), spec.defaultValue > 0.5f));
    else if (spec.isInteger)
      layout.add(std::make_unique<juce::AudioParameterInt>(
          id, toJuce(spec.label), static_cast<int>(spec.minValue), static_cast<int>(spec.maxValue),
          static_cast<int>(spec.defaultValue),
          juce::AudioParameterIntAttributes().withStringFromValueFunction(
              [spec](int value, int) { return valueText(spec, static_cast<float>(value), 0); })));
    else
      layout.add(std::make_unique<juce::AudioParameterFloat>(
          id, toJuce(spec.label), juce::NormalisableRange<float>(spec.minValue, spec.maxValue), spec.defaultValue,
          juce::AudioParameterFloatAttributes()
              .withStringFromValueFunction([spec](float value, int) { return valueText(spec, value, 2); })
              .withLabel(toJuce(spec.unit))));
  }
  return layout;
}

juce::String LmdmAudioProcessor::loadModel(const juce::File& folder) {
  const juce::String error = loadPackage(folder, provider_);
  if (error.isEmpty()) modelFolder_ = folder.getFullPathName();
  return error;
}

juce::String LmdmAudioProcessor::setExecutionProvider(const juce::String& provider) {
  if (provider == provider_) return {};
  const juce::File folder(modelFolder_.isNotEmpty() ? modelFolder_ : juce::String(defaultModelFolder()));
  const juce::String error = loadPackage(folder, provider);
  if (error.isEmpty()) provider_ = provider;
  return error;
}

juce::StringArray LmdmAudioProcessor::selectableProviders() {
  juce::StringArray names;
  try {
    lmdm::OrtRuntime::load(lmdm::OrtRuntime::bundledLibraryPath());
    for (const auto& name : lmdm::selectableProviders()) names.add(name);
  } catch (const std::exception&) {
    names.add("cpu");  // no runtime, no model: the choice changes nothing, the status says why
  }
  return names;
}

juce::String LmdmAudioProcessor::loadPackage(const juce::File& folder, const juce::String& provider) {
  auto processor = std::make_unique<lmdm::LmdmProcessor>(folder.getFullPathName().toStdString(),
                                                         lmdm::SessionSettings{1, provider.toStdString()});
  if (!processor->ready()) return processor->status();
  suspendProcessing(true);  // waits for the audio callback: the engine is swapped while nothing runs
  engineReady_ = false;
  engine_.setProcessor(std::move(processor));
  if (getSampleRate() > 0.0) prepareToPlay(getSampleRate(), getBlockSize());
  suspendProcessing(false);
  updateHostDisplay(juce::AudioProcessorListener::ChangeDetails().withLatencyChanged(true));
  return {};
}

const lmdm::LmdmProcessor& LmdmAudioProcessor::lmdmProcessor() const {
  // The plugin only ever hands the engine an LmdmProcessor (makeProcessor, loadPackage).
  return static_cast<const lmdm::LmdmProcessor&>(engine_.processor());
}

juce::String LmdmAudioProcessor::executionProvider() const {
  const auto* model = lmdmProcessor().model();
  return model ? juce::String(model->provider()) : juce::String("none");
}

juce::StringArray LmdmAudioProcessor::promptNames() const {
  juce::StringArray names;
  if (const auto* model = lmdmProcessor().model())
    for (const auto& prompt : model->package().prompts) names.add(prompt.name);
  return names;
}

juce::String LmdmAudioProcessor::modelStatus() const {
  return juce::String(lmdmProcessor().status());
}

void LmdmAudioProcessor::prepareToPlay(double sampleRate, int samplesPerBlock) {
  engineReady_ = false;
  try {
    engine_.prepare(sampleRate, samplesPerBlock, std::max(1, getTotalNumOutputChannels()));
    setLatencySamples(engine_.latencyFrames());
    engineReady_ = true;
  } catch (const std::exception& error) {
    juce::Logger::writeToLog(juce::String("LMDM: engine not started: ") + error.what());
  }
}

void LmdmAudioProcessor::releaseResources() { engine_.release(); }

double LmdmAudioProcessor::getTailLengthSeconds() const {
  // The output runs one latency period behind the input, and each feedback echo one period more,
  // decaying by the feedback gain: report the tail down to -60 dB.
  const double rate = getSampleRate();
  if (rate <= 0.0) return 0.0;
  const double feedback = parameterValues_[static_cast<std::size_t>(lmdm::ParameterId::Feedback)]->load();
  const double echoes = feedback > 1e-3 ? std::ceil(std::log(1e-3) / std::log(feedback)) : 0.0;
  return engine_.latencyFrames() / rate * (1.0 + echoes);
}

bool LmdmAudioProcessor::isBusesLayoutSupported(const BusesLayout& layouts) const {
  const auto& out = layouts.getMainOutputChannelSet();
  if (out != juce::AudioChannelSet::mono() && out != juce::AudioChannelSet::stereo()) return false;
  return layouts.getMainInputChannelSet() == out;
}

void LmdmAudioProcessor::processBlock(juce::AudioBuffer<float>& buffer, juce::MidiBuffer&) {
  juce::ScopedNoDenormals noDenormals;
  const int channels = getTotalNumOutputChannels();
  for (int c = getTotalNumInputChannels(); c < channels; ++c) buffer.clear(c, 0, buffer.getNumSamples());
  if (!engineReady_.load(std::memory_order_relaxed) || buffer.getNumChannels() < engine_.channels()) return;

  for (const auto& spec : lmdm::kParameterSpecs)
    engine_.setParameter(spec.id, parameterValues_[static_cast<std::size_t>(spec.id)]->load(std::memory_order_relaxed));
  engine_.setNonRealtime(isNonRealtime());
  engine_.process(buffer.getArrayOfReadPointers(), buffer.getArrayOfWritePointers(), buffer.getNumSamples());
}

juce::AudioProcessorParameter* LmdmAudioProcessor::getBypassParameter() const {
  return parameters_.getParameter(toJuce(lmdm::spec(lmdm::ParameterId::Bypass).key));
}

void LmdmAudioProcessor::getStateInformation(juce::MemoryBlock& destData) {
  lmdm::ParameterValues values;
  for (const auto& spec : lmdm::kParameterSpecs)
    lmdm::assign(values, spec.id, parameterValues_[static_cast<std::size_t>(spec.id)]->load());
  const std::string state = lmdm::encodeState(values, {modelFolder_.toStdString(), provider_.toStdString()});
  destData.replaceAll(state.data(), state.size());
}

void LmdmAudioProcessor::setStateInformation(const void* data, int sizeInBytes) {
  // Unrecognised or damaged state restores the defaults (decodeState never throws).
  const auto decoded = lmdm::decodeState(data, static_cast<std::size_t>(std::max(0, sizeInBytes)));
  for (const auto& spec : lmdm::kParameterSpecs) {
    auto* parameter = parameters_.getParameter(toJuce(spec.key));
    parameter->setValueNotifyingHost(parameter->convertTo0to1(lmdm::valueOf(decoded.values, spec.id)));
  }
  // The provider, and a package chosen in an earlier session if it is still there, come back.
  if (!decoded.recognised) return;
  const auto folderPath = juce::String::fromUTF8(decoded.session.modelFolder.c_str());
  const auto provider = juce::String(decoded.session.provider);
  const bool newProvider = provider.isNotEmpty() && provider != provider_;
  const bool newFolder = juce::File::isAbsolutePath(folderPath) && juce::File(folderPath).getFullPathName() != modelFolder_ &&
                         juce::File(folderPath).getChildFile("manifest.json").existsAsFile();
  if (newFolder) {  // one load with both
    const juce::String previous = provider_;
    if (newProvider) provider_ = provider;
    if (loadModel(juce::File(folderPath)).isEmpty()) return;
    provider_ = previous;
  }
  if (newProvider) setExecutionProvider(provider);
}

juce::AudioProcessorEditor* LmdmAudioProcessor::createEditor() { return new LmdmAudioProcessorEditor(*this); }

juce::AudioProcessor* JUCE_CALLTYPE createPluginFilter() { return new LmdmAudioProcessor(); }

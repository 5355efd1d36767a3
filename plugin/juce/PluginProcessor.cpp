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
  startTimer(250);  // the buffer watch; where a host runs no message loop it never fires and nothing adapts
}

LmdmAudioProcessor::~LmdmAudioProcessor() {
  stopTimer();
  cancelPendingUpdate();
  const std::lock_guard<std::mutex> lock(lifecycleMutex_);
  engine_.release();
}

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
  const juce::String error = loadPackage(folder, requestedProvider());
  if (error.isEmpty()) {
    const std::lock_guard<std::mutex> lock(sessionMutex_);
    modelFolder_ = folder.getFullPathName();
  }
  return error;
}

juce::String LmdmAudioProcessor::setExecutionProvider(const juce::String& provider) {
  const auto session = loadedSession();
  if (provider.toStdString() == session.provider) return {};
  const juce::File folder(session.modelFolder.empty() ? juce::String(defaultModelFolder())
                                                      : juce::String::fromUTF8(session.modelFolder.c_str()));
  const juce::String error = loadPackage(folder, provider);
  if (error.isEmpty()) {
    const std::lock_guard<std::mutex> lock(sessionMutex_);
    provider_ = provider;
  }
  return error;
}

juce::String LmdmAudioProcessor::requestedProvider() const {
  const std::lock_guard<std::mutex> lock(sessionMutex_);
  return provider_;
}

lmdm::SessionChoices LmdmAudioProcessor::loadedSession() const {
  const std::lock_guard<std::mutex> lock(sessionMutex_);
  return {modelFolder_.toStdString(), provider_.toStdString()};
}

lmdm::SessionChoices LmdmAudioProcessor::savedSession() const {
  {
    const std::lock_guard<std::mutex> lock(sessionMutex_);
    // A session restored but not yet loaded is what the user has: saving now must not lose it.
    if (pendingSession_) return *pendingSession_;
  }
  return loadedSession();
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
  {
    const std::lock_guard<std::mutex> lock(lifecycleMutex_);
    gate_.close();  // waits for the audio callback under way, if any; the next ones pass audio through
    engine_.setProcessor(std::move(processor));
    if (prepared_) {  // opens the gate again, for the host's announced buffer: the watch listens anew
      bufferWatch_.hostPrepared(getBlockSize());
      prepareEngine(getSampleRate(), getBlockSize());
    }
  }
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
  const std::lock_guard<std::mutex> lock(lifecycleMutex_);
  prepared_ = true;
  bufferWatch_.hostPrepared(samplesPerBlock);
  prepareEngine(sampleRate, samplesPerBlock);
}

void LmdmAudioProcessor::prepareEngine(double sampleRate, int samplesPerBlock) {
  gate_.close();
  try {
    engine_.prepare(sampleRate, samplesPerBlock, std::max(1, getTotalNumOutputChannels()));
    setLatencySamples(engine_.latencyFrames());
    engineBufferSize_ = samplesPerBlock;
    gate_.open();
  } catch (const std::exception& error) {
    juce::Logger::writeToLog(juce::String("LMDM: engine not started: ") + error.what());
  }
}

void LmdmAudioProcessor::timerCallback() {
  {
    const std::lock_guard<std::mutex> lock(lifecycleMutex_);
    if (!prepared_ || !gate_.isOpen()) return;
    const auto stats = engine_.stats();
    const int next = bufferWatch_.next(engineBufferSize_, stats.largestBufferFrames, stats.realtimeFrames, getSampleRate());
    if (next == engineBufferSize_) return;
    // A restart: the model's context starts again from silence, once, in the first second of playing.
    prepareEngine(getSampleRate(), next);
  }
  updateHostDisplay(juce::AudioProcessorListener::ChangeDetails().withLatencyChanged(true));
}

void LmdmAudioProcessor::releaseResources() {
  const std::lock_guard<std::mutex> lock(lifecycleMutex_);
  prepared_ = false;
  gate_.close();
  engine_.release();
}

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
  if (!gate_.enter()) return;
  const lmdm::InsideGate inside(gate_);
  if (buffer.getNumChannels() < engine_.channels()) return;

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
  const std::string state = lmdm::encodeState(values, savedSession());
  destData.replaceAll(state.data(), state.size());
}

void LmdmAudioProcessor::setStateInformation(const void* data, int sizeInBytes) {
  // Unrecognised or damaged state restores the defaults (decodeState never throws).
  const auto decoded = lmdm::decodeState(data, static_cast<std::size_t>(std::max(0, sizeInBytes)));
  for (const auto& spec : lmdm::kParameterSpecs) {
    auto* parameter = parameters_.getParameter(toJuce(spec.key));
    parameter->setValueNotifyingHost(parameter->convertTo0to1(lmdm::valueOf(decoded.values, spec.id)));
  }
  // The provider, and a package chosen in an earlier session if it is still there, come back: loading
  // is for the message thread (it swaps the engine), and hosts may restore state from any thread.
  if (!decoded.recognised) return;
  const bool here = juce::MessageManager::existsAndIsCurrentThread();
  {
    const std::lock_guard<std::mutex> lock(sessionMutex_);
    pendingSession_ = here ? std::nullopt : std::optional<lmdm::SessionChoices>(decoded.session);
  }
  if (here)
    restoreSession(decoded.session);
  else
    triggerAsyncUpdate();
}

void LmdmAudioProcessor::handleAsyncUpdate() {
  // The pending choice stays what a save reports until its load is done (a load takes a while).
  std::optional<lmdm::SessionChoices> session;
  {
    const std::lock_guard<std::mutex> lock(sessionMutex_);
    session = pendingSession_;
  }
  if (!session) return;
  restoreSession(*session);
  const std::lock_guard<std::mutex> lock(sessionMutex_);
  if (pendingSession_ && pendingSession_->modelFolder == session->modelFolder && pendingSession_->provider == session->provider)
    pendingSession_.reset();  // else a newer restore came meanwhile: its own update follows
}

void LmdmAudioProcessor::restoreSession(const lmdm::SessionChoices& session) {
  const auto current = loadedSession();
  const auto folderPath = juce::String::fromUTF8(session.modelFolder.c_str());
  const auto provider = juce::String(session.provider);
  const bool newProvider = provider.isNotEmpty() && session.provider != current.provider;
  const bool newFolder = juce::File::isAbsolutePath(folderPath) &&
                         juce::File(folderPath).getFullPathName().toStdString() != current.modelFolder &&
                         juce::File(folderPath).getChildFile("manifest.json").existsAsFile();
  if (newFolder) {  // one load with both
    const auto folder = juce::File(folderPath);
    if (loadPackage(folder, newProvider ? provider : juce::String(current.provider)).isEmpty()) {
      const std::lock_guard<std::mutex> lock(sessionMutex_);
      modelFolder_ = folder.getFullPathName();
      if (newProvider) provider_ = provider;
      return;
    }
  }
  if (newProvider) setExecutionProvider(provider);
}

juce::AudioProcessorEditor* LmdmAudioProcessor::createEditor() { return new LmdmAudioProcessorEditor(*this); }

juce::AudioProcessor* JUCE_CALLTYPE createPluginFilter() { return new LmdmAudioProcessor(); }

// The JUCE shell: host parameters, state and bus layouts around lmdm::Engine, which does the work.
#pragma once

#include <juce_audio_processors/juce_audio_processors.h>

#include <array>
#include <atomic>
#include <mutex>
#include <optional>
#include <string_view>

#include "lmdm/BufferSizeWatch.h"
#include "lmdm/Engine.h"
#include "lmdm/LmdmProcessor.h"
#include "lmdm/ProcessGate.h"
#include "lmdm/StateCodec.h"

/** The engine's parameter keys and labels as JUCE strings. */
inline juce::String toJuce(std::string_view text) { return juce::String(text.data(), static_cast<size_t>(text.size())); }

/** A parameter's value as shown to the user: its minimum text where the minimum means something else. */
inline juce::String valueText(const lmdm::ParameterSpec& spec, float value, int decimals) {
  if (!spec.minimumText.empty() && value <= spec.minValue) return toJuce(spec.minimumText);
  return decimals == 0 ? juce::String(static_cast<int>(value)) : juce::String(value, decimals);
}

class LmdmAudioProcessor final : public juce::AudioProcessor, private juce::AsyncUpdater, private juce::Timer {
 public:
  LmdmAudioProcessor();
  ~LmdmAudioProcessor() override;

  void prepareToPlay(double sampleRate, int samplesPerBlock) override;
  void releaseResources() override;
  bool isBusesLayoutSupported(const BusesLayout& layouts) const override;
  void processBlock(juce::AudioBuffer<float>&, juce::MidiBuffer&) override;
  using AudioProcessor::processBlock;

  juce::AudioProcessorEditor* createEditor() override;
  bool hasEditor() const override { return true; }

  const juce::String getName() const override { return "LMDM"; }
  bool acceptsMidi() const override { return false; }
  bool producesMidi() const override { return false; }
  double getTailLengthSeconds() const override;

  int getNumPrograms() override { return 1; }
  int getCurrentProgram() override { return 0; }
  void setCurrentProgram(int) override {}
  const juce::String getProgramName(int) override { return "Default"; }
  void changeProgramName(int, const juce::String&) override {}

  void getStateInformation(juce::MemoryBlock& destData) override;
  void setStateInformation(const void* data, int sizeInBytes) override;
  juce::AudioProcessorParameter* getBypassParameter() const override;

  juce::AudioProcessorValueTreeState& parameters() { return parameters_; }
  const lmdm::Engine& engine() const { return engine_; }
  /** Whether the engine runs (prepared, and no model swap under way); when not, audio passes through untouched. */
  bool engineReady() const { return gate_.isOpen(); }
  /** ONNX Runtime as loaded from the bundle ("ONNX Runtime 1.x", or why it failed). */
  const juce::String& runtimeStatus() const { return runtimeStatus_; }
  /** "" while the model generates, else why the plugin passes audio through. */
  juce::String modelStatus() const;
  /** Message thread. Loads another model package; on failure keeps the current one and returns why.
      The audio thread keeps running: it passes audio through for the moment the engine is swapped. */
  juce::String loadModel(const juce::File& folder);
  /** The ONNX Runtime execution provider running the model ("cpu", "cuda"), or "none". */
  juce::String executionProvider() const;
  /** The provider asked for (saved with the session); it may have fallen back to "cpu", see modelStatus(). */
  juce::String requestedProvider() const;
  /** Message thread. Reloads the current package on `provider` ("cpu", "cuda", "coreml", "directml");
      on failure keeps the running one and returns why. */
  juce::String setExecutionProvider(const juce::String& provider);
  /** The providers the bundled ONNX Runtime offers ("cpu" first; only "cpu" if it failed to load). */
  static juce::StringArray selectableProviders();
  /** The prompt names of the running package (empty without a model). */
  juce::StringArray promptNames() const;

 private:
  static juce::AudioProcessorValueTreeState::ParameterLayout createLayout();
  juce::String loadPackage(const juce::File& folder, const juce::String& provider);
  const lmdm::LmdmProcessor& lmdmProcessor() const;
  /** With lifecycleMutex_ held: (re)starts the engine and opens the gate, or logs why not. */
  void prepareEngine(double sampleRate, int samplesPerBlock);
  /** Message thread: prepares the engine again for the buffers the host really sends (lmdm::BufferSizeWatch). */
  void timerCallback() override;
  /** Message thread: the package and provider a restored session chose, where they still exist. */
  void restoreSession(const lmdm::SessionChoices& session);
  /** Message thread: a session restored on another thread (hosts may restore state from any thread). */
  void handleAsyncUpdate() override;
  lmdm::SessionChoices loadedSession() const;  // what runs now
  lmdm::SessionChoices savedSession() const;   // what a saved session holds: a pending restore, else what runs

  juce::AudioProcessorValueTreeState parameters_;
  std::array<std::atomic<float>*, lmdm::kParameterSpecs.size()> parameterValues_{};
  juce::String runtimeStatus_;  // written while engine_ is built, so declared before it
  // The session's choices: written on the message thread, read by state saving on any thread.
  mutable std::mutex sessionMutex_;
  juce::String modelFolder_;  // the package chosen with loadModel(), saved with the session
  juce::String provider_;     // the execution provider asked for ($LMDM_PROVIDER, the editor, the session)
  std::optional<lmdm::SessionChoices> pendingSession_;  // restored off the message thread, loaded on it next
  lmdm::Engine engine_;
  lmdm::ProcessGate gate_;  // open while the audio thread may run engine_
  // The engine's lifecycle (prepare, release, a model swap) comes from the host's thread and from the
  // message thread (a package chosen or restored): one at a time. Never taken on the audio thread.
  std::mutex lifecycleMutex_;
  bool prepared_ = false;  // between the host's prepareToPlay and releaseResources; guarded by lifecycleMutex_
  int engineBufferSize_ = 0;       // the largest buffer the running engine allows for; guarded by lifecycleMutex_
  lmdm::BufferSizeWatch bufferWatch_;  // guarded by lifecycleMutex_

  JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR(LmdmAudioProcessor)
};

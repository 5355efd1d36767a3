// The editor: every parameter (sliders and switches attached to the host's parameters), the model's
// status (name, execution provider, real-time factor, misses, current prompt) and a button to load
// another model package.
#pragma once

#include <juce_audio_processors/juce_audio_processors.h>

#include <memory>
#include <vector>

#include "PluginProcessor.h"

class LmdmAudioProcessorEditor final : public juce::AudioProcessorEditor, private juce::Timer {
 public:
  explicit LmdmAudioProcessorEditor(LmdmAudioProcessor&);
  ~LmdmAudioProcessorEditor() override;

  void paint(juce::Graphics&) override;
  void resized() override;

 private:
  struct Control {
    std::unique_ptr<juce::Slider> slider;
    std::unique_ptr<juce::ToggleButton> toggle;
    std::unique_ptr<juce::Label> label;
    std::unique_ptr<juce::AudioProcessorValueTreeState::SliderAttachment> sliderAttachment;
    std::unique_ptr<juce::AudioProcessorValueTreeState::ButtonAttachment> toggleAttachment;
  };

  void timerCallback() override;
  void addControl(const lmdm::ParameterSpec& spec);
  void chooseModel();
  void chooseProvider();
  juce::String promptName(double value) const;
  juce::String currentPrompt() const;

  LmdmAudioProcessor& processor_;
  std::vector<Control> controls_;
  juce::TextButton loadModel_{"Load model..."};
  juce::ComboBox provider_;  // the execution providers this ONNX Runtime offers
  std::unique_ptr<juce::FileChooser> chooser_;
  juce::Label status_;
  juce::String loadError_;

  JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR(LmdmAudioProcessorEditor)
};

// A minimal editor: the parameters, and the engine's status (running, latency, misses, runtime).
#pragma once

#include <juce_audio_processors/juce_audio_processors.h>

#include "PluginProcessor.h"

class LmdmAudioProcessorEditor final : public juce::AudioProcessorEditor, private juce::Timer {
 public:
  explicit LmdmAudioProcessorEditor(LmdmAudioProcessor&);
  ~LmdmAudioProcessorEditor() override;

  void paint(juce::Graphics&) override;
  void resized() override;

 private:
  using SliderAttachment = juce::AudioProcessorValueTreeState::SliderAttachment;
  using ButtonAttachment = juce::AudioProcessorValueTreeState::ButtonAttachment;

  void timerCallback() override;
  void addSlider(juce::Slider& slider, juce::Label& label, const juce::String& text);

  LmdmAudioProcessor& processor_;
  juce::Slider mix_, feedback_;
  juce::Label mixLabel_, feedbackLabel_;
  juce::ToggleButton bypass_{"Bypass"};
  std::unique_ptr<SliderAttachment> mixAttachment_, feedbackAttachment_;
  std::unique_ptr<ButtonAttachment> bypassAttachment_;
  juce::Label status_;

  JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR(LmdmAudioProcessorEditor)
};

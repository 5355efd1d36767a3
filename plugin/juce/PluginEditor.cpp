#include "PluginEditor.h"

LmdmAudioProcessorEditor::LmdmAudioProcessorEditor(LmdmAudioProcessor& owner)
    : AudioProcessorEditor(owner), processor_(owner) {
  auto& state = owner.parameters();
  addSlider(mix_, mixLabel_, "Mix");
  addSlider(feedback_, feedbackLabel_, "Feedback");
  addAndMakeVisible(bypass_);
  mixAttachment_ = std::make_unique<SliderAttachment>(state, "mix", mix_);
  feedbackAttachment_ = std::make_unique<SliderAttachment>(state, "feedback", feedback_);
  bypassAttachment_ = std::make_unique<ButtonAttachment>(state, "bypass", bypass_);

  status_.setJustificationType(juce::Justification::topLeft);
  status_.setFont(juce::Font(juce::Font::getDefaultMonospacedFontName(), 13.0f, juce::Font::plain));
  addAndMakeVisible(status_);
  setSize(460, 300);
  timerCallback();
  startTimerHz(10);
}

LmdmAudioProcessorEditor::~LmdmAudioProcessorEditor() { stopTimer(); }

void LmdmAudioProcessorEditor::addSlider(juce::Slider& slider, juce::Label& label, const juce::String& text) {
  slider.setSliderStyle(juce::Slider::RotaryHorizontalVerticalDrag);
  slider.setTextBoxStyle(juce::Slider::TextBoxBelow, false, 70, 20);
  label.setText(text, juce::dontSendNotification);
  label.setJustificationType(juce::Justification::centred);
  addAndMakeVisible(slider);
  addAndMakeVisible(label);
}

void LmdmAudioProcessorEditor::timerCallback() {
  const auto stats = processor_.engine().stats();
  const double rate = processor_.getSampleRate();
  const auto millis = [rate](int frames) { return rate > 0 ? juce::String(1000.0 * frames / rate, 1) : juce::String("-"); };
  juce::String text;
  text << "Model:    " << juce::String(processor_.engine().processor().name()) << "\n"
       << "Engine:   " << (processor_.engineReady() && stats.running ? "running" : "stopped") << "\n"
       << "Latency:  " << stats.latencyFrames << " samples (" << millis(stats.latencyFrames) << " ms)\n"
       << "Block:    " << stats.blockFrames << " samples, last computed in "
       << juce::String(stats.lastWorkerMillis, 2) << " ms\n"
       << "Blocks:   " << stats.blocksPlayed << " played, " << stats.blocksMissed << " missed\n"
       << "Runtime:  " << processor_.runtimeStatus();
  const juce::String model = processor_.modelStatus();
  if (model.isNotEmpty()) text << "\n" << model;
  status_.setText(text, juce::dontSendNotification);
}

void LmdmAudioProcessorEditor::paint(juce::Graphics& g) {
  g.fillAll(juce::Colour(0xff1d2127));
  g.setColour(juce::Colours::white);
  g.setFont(20.0f);
  g.drawText("LMDM  generative delay", getLocalBounds().removeFromTop(36).reduced(12, 0),
             juce::Justification::centredLeft);
}

void LmdmAudioProcessorEditor::resized() {
  auto area = getLocalBounds().reduced(12);
  area.removeFromTop(30);
  auto controls = area.removeFromTop(130);
  const int width = controls.getWidth() / 3;
  auto place = [](juce::Rectangle<int> cell, juce::Slider& slider, juce::Label& label) {
    label.setBounds(cell.removeFromTop(20));
    slider.setBounds(cell);
  };
  place(controls.removeFromLeft(width), mix_, mixLabel_);
  place(controls.removeFromLeft(width), feedback_, feedbackLabel_);
  bypass_.setBounds(controls.withSizeKeepingCentre(width - 20, 30));
  status_.setBounds(area.reduced(0, 6));
}

#include "PluginEditor.h"

namespace {

constexpr int kRowHeight = 26;
constexpr int kStatusHeight = 150;

}  // namespace

LmdmAudioProcessorEditor::LmdmAudioProcessorEditor(LmdmAudioProcessor& owner)
    : AudioProcessorEditor(owner), processor_(owner) {
  for (const auto& spec : lmdm::kParameterSpecs) addControl(spec);
  loadModel_.onClick = [this] { chooseModel(); };
  addAndMakeVisible(loadModel_);
  provider_.addItemList(LmdmAudioProcessor::selectableProviders(), 1);
  provider_.setText(processor_.requestedProvider(), juce::dontSendNotification);
  provider_.setTooltip("ONNX Runtime execution provider for the model (reloads it)");
  provider_.onChange = [this] { chooseProvider(); };
  addAndMakeVisible(provider_);
  status_.setJustificationType(juce::Justification::topLeft);
  status_.setFont(juce::Font(juce::Font::getDefaultMonospacedFontName(), 13.0f, juce::Font::plain));
  addAndMakeVisible(status_);
  const int rows = (static_cast<int>(controls_.size()) + 1) / 2;
  setSize(640, 48 + kStatusHeight + rows * kRowHeight + 20);
  timerCallback();
  startTimerHz(10);
}

LmdmAudioProcessorEditor::~LmdmAudioProcessorEditor() { stopTimer(); }

void LmdmAudioProcessorEditor::addControl(const lmdm::ParameterSpec& spec) {
  auto& state = processor_.parameters();
  Control control;
  const juce::String key = toJuce(spec.key);
  if (spec.isToggle) {
    control.toggle = std::make_unique<juce::ToggleButton>(toJuce(spec.label));
    addAndMakeVisible(*control.toggle);
    control.toggleAttachment = std::make_unique<juce::AudioProcessorValueTreeState::ButtonAttachment>(state, key, *control.toggle);
  } else {
    control.label = std::make_unique<juce::Label>(key, toJuce(spec.label));
    control.slider = std::make_unique<juce::Slider>(juce::Slider::LinearHorizontal, juce::Slider::TextBoxRight);
    control.slider->setTextBoxStyle(juce::Slider::TextBoxRight, false, 90, 20);
    addAndMakeVisible(*control.label);
    addAndMakeVisible(*control.slider);
    control.sliderAttachment = std::make_unique<juce::AudioProcessorValueTreeState::SliderAttachment>(state, key, *control.slider);
    if (!spec.unit.empty()) control.slider->setTextValueSuffix(" " + toJuce(spec.unit));
    if (!spec.minimumText.empty()) {
      control.slider->textFromValueFunction = [spec](double value) {
        return valueText(spec, static_cast<float>(value), spec.isInteger ? 0 : 2);
      };
      control.slider->updateText();
    }
    if (spec.id == lmdm::ParameterId::PromptA || spec.id == lmdm::ParameterId::PromptB) {
      control.slider->textFromValueFunction = [this](double value) { return promptName(value); };
      control.slider->updateText();
    }
  }
  controls_.push_back(std::move(control));
}

juce::String LmdmAudioProcessorEditor::promptName(double value) const {
  const auto names = processor_.promptNames();
  if (names.isEmpty()) return juce::String(static_cast<int>(value));
  return names[juce::jlimit(0, names.size() - 1, static_cast<int>(value + 0.5))];
}

juce::String LmdmAudioProcessorEditor::currentPrompt() const {
  auto& state = processor_.parameters();
  const auto value = [&](lmdm::ParameterId id) { return state.getRawParameterValue(toJuce(lmdm::spec(id).key))->load(); };
  const float morph = value(lmdm::ParameterId::Morph);
  juce::String text = promptName(value(lmdm::ParameterId::PromptA));
  if (morph > 0.0f) text << " -> " << promptName(value(lmdm::ParameterId::PromptB)) << " (" << juce::String(morph, 2) << ")";
  return text;
}

void LmdmAudioProcessorEditor::chooseModel() {
  chooser_ = std::make_unique<juce::FileChooser>("Choose a model package folder (it holds manifest.json)");
  chooser_->launchAsync(juce::FileBrowserComponent::openMode | juce::FileBrowserComponent::canSelectDirectories,
                        [this](const juce::FileChooser& chooser) {
                          const auto folder = chooser.getResult();
                          if (folder == juce::File()) return;
                          loadError_ = processor_.loadModel(folder);
                          for (auto& control : controls_)
                            if (control.slider) control.slider->updateText();
                        });
}

void LmdmAudioProcessorEditor::chooseProvider() {
  loadError_ = processor_.setExecutionProvider(provider_.getText());
  if (loadError_.isNotEmpty()) provider_.setText(processor_.requestedProvider(), juce::dontSendNotification);
}

void LmdmAudioProcessorEditor::timerCallback() {
  const auto stats = processor_.engine().stats();
  const double rate = processor_.getSampleRate();
  const auto millis = [rate](int frames) { return rate > 0 ? 1000.0 * frames / rate : 0.0; };
  const double blockMillis = millis(stats.blockFrames);
  juce::String text;
  text << "Model:    " << juce::String(processor_.engine().processor().name()) << "  (ONNX Runtime, " << processor_.executionProvider() << ")\n"
       << "Prompt:   " << currentPrompt() << "\n"
       << "Engine:   " << (processor_.engineReady() && stats.running ? "running" : "stopped") << ", latency "
       << juce::String(millis(stats.latencyFrames), 1) << " ms for host buffers up to " << stats.maxBufferFrames
       << " frames\n"
       << "Block:    " << juce::String(blockMillis, 1) << " ms, computed in " << juce::String(stats.lastWorkerMillis, 1)
       << " ms (real-time factor " << (blockMillis > 0 ? juce::String(stats.lastWorkerMillis / blockMillis, 2) : "-") << ")\n"
       << "Blocks:   " << stats.blocksPlayed << " played, " << stats.blocksMissed << " missed, " << stats.blocksShortened
       << " with fewer steps to be on time\n"
       << "Runtime:  " << processor_.runtimeStatus();
  const juce::String model = processor_.modelStatus();
  if (model.isNotEmpty()) text << "\n" << model;
  if (loadError_.isNotEmpty()) text << "\nNot loaded: " << loadError_;
  status_.setText(text, juce::dontSendNotification);
}

void LmdmAudioProcessorEditor::paint(juce::Graphics& g) {
  g.fillAll(juce::Colour(0xff1d2127));
  g.setColour(juce::Colours::white);
  g.setFont(20.0f);
  g.drawText("LMDM  generative delay", getLocalBounds().removeFromTop(40).reduced(12, 0), juce::Justification::centredLeft);
}

void LmdmAudioProcessorEditor::resized() {
  auto area = getLocalBounds().reduced(12, 0);
  auto header = area.removeFromTop(40);
  loadModel_.setBounds(header.removeFromRight(130).reduced(0, 7));
  header.removeFromRight(8);
  provider_.setBounds(header.removeFromRight(100).reduced(0, 7));
  status_.setBounds(area.removeFromTop(kStatusHeight));
  const int columnWidth = area.getWidth() / 2;
  for (std::size_t i = 0; i < controls_.size(); ++i) {
    auto cell = juce::Rectangle<int>(area.getX() + static_cast<int>(i % 2) * columnWidth,
                                     area.getY() + static_cast<int>(i / 2) * kRowHeight, columnWidth - 8, kRowHeight - 2);
    auto& control = controls_[i];
    if (control.toggle) {
      control.toggle->setBounds(cell);
    } else {
      control.label->setBounds(cell.removeFromLeft(110));
      control.slider->setBounds(cell);
    }
  }
}

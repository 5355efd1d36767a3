# The JUCE plugin shell over the engine: VST3, LV2 and Standalone on Linux; AU, VST3 and Standalone
# on macOS; VST3 and Standalone on Windows. JUCE 7 comes from Debian's juce-modules-source here.
find_package(JUCE CONFIG REQUIRED)

# An identifier, not a web page: LV2 wants an http(s) URI; the reserved .invalid domain never collides.
set(LMDM_LV2_URI "https://lmdm.invalid/lv2/lmdm")
if(APPLE)
  set(LMDM_PLUGIN_FORMATS AU VST3 Standalone)
elseif(WIN32)
  set(LMDM_PLUGIN_FORMATS VST3 Standalone)
else()
  set(LMDM_PLUGIN_FORMATS VST3 LV2 Standalone)
endif()

juce_add_plugin(LMDMPlugin
  PRODUCT_NAME "LMDM"
  COMPANY_NAME "LMDM"
  BUNDLE_ID "org.lmdm.lmdm"
  PLUGIN_MANUFACTURER_CODE Lmdm
  PLUGIN_CODE Lmd1
  FORMATS ${LMDM_PLUGIN_FORMATS}
  LV2URI "${LMDM_LV2_URI}"
  IS_SYNTH FALSE
  NEEDS_MIDI_INPUT FALSE
  NEEDS_MIDI_OUTPUT FALSE
  VST3_CATEGORIES Fx Delay
  AU_MAIN_TYPE kAudioUnitType_Effect
  COPY_PLUGIN_AFTER_BUILD FALSE)

target_sources(LMDMPlugin PRIVATE
  plugin/juce/PluginProcessor.cpp
  plugin/juce/PluginEditor.cpp)

target_compile_definitions(LMDMPlugin PUBLIC
  # Debian's JUCE forces the LV2 URI to the bare product name, which hosts reject: set it ourselves.
  JucePlugin_LV2URI="${LMDM_LV2_URI}"
  # Debian's JUCE uses system FLAC/Vorbis without linking them; we need neither.
  JUCE_USE_FLAC=0
  JUCE_USE_OGGVORBIS=0
  JUCE_WEB_BROWSER=0
  JUCE_USE_CURL=0
  JUCE_VST3_CAN_REPLACE_VST2=0
  JUCE_DISPLAY_SPLASH_SCREEN=0)

target_link_libraries(LMDMPlugin
  PRIVATE lmdm_engine juce::juce_audio_utils juce::juce_dsp
  PUBLIC juce::juce_recommended_config_flags juce::juce_recommended_warning_flags)
lmdm_enable_lto(LMDMPlugin)

# Every format carries its own ONNX Runtime, so the plugin never uses the host's copy.
foreach(format IN LISTS LMDM_PLUGIN_FORMATS)
  if(TARGET LMDMPlugin_${format} AND NOT format STREQUAL "AU")
    lmdm_bundle_onnxruntime(LMDMPlugin_${format})
    lmdm_enable_lto(LMDMPlugin_${format})
  endif()
endforeach()

# The model package every format starts with (LmdmAudioProcessor looks beside its binary and in the
# bundle's Resources folder); without one the plugin loads, says so, and passes audio through.
set(LMDM_DEFAULT_MODEL "${CMAKE_SOURCE_DIR}/models/lmdm-live" CACHE PATH "Model package bundled into the plugin")
if(EXISTS "${LMDM_DEFAULT_MODEL}/manifest.json")
  foreach(format IN LISTS LMDM_PLUGIN_FORMATS)
    if(NOT TARGET LMDMPlugin_${format})
      continue()
    endif()
    if(format STREQUAL "VST3" OR format STREQUAL "AU")
      set(_model_dir "$<TARGET_FILE_DIR:LMDMPlugin_${format}>/../Resources/model")
    else()
      set(_model_dir "$<TARGET_FILE_DIR:LMDMPlugin_${format}>/model")
    endif()
    add_custom_command(TARGET LMDMPlugin_${format} POST_BUILD
      COMMAND ${CMAKE_COMMAND} -E copy_directory "${LMDM_DEFAULT_MODEL}" "${_model_dir}"
      VERBATIM)
    # A GPU build (provider libraries bundled) also carries the package's float16 twin, which the
    # engine loads when CUDA starts (lmdm::gpuTwinFolder: the same name plus "-fp16").
    if(LMDM_ORT_PROVIDER_LIBRARIES AND EXISTS "${LMDM_DEFAULT_MODEL}-fp16/manifest.json")
      add_custom_command(TARGET LMDMPlugin_${format} POST_BUILD
        COMMAND ${CMAKE_COMMAND} -E copy_directory "${LMDM_DEFAULT_MODEL}-fp16" "${_model_dir}-fp16"
        VERBATIM)
    endif()
  endforeach()
else()
  message(WARNING "LMDM: no model package at ${LMDM_DEFAULT_MODEL}; the plugin will pass audio through")
endif()

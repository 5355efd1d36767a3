/* lv2_host: a minimal LV2 host on liblilv, used by the tests to run our LV2 plugin.
 *
 *   lv2_host BUNDLE_DIR PLUGIN_URI RATE BLOCK IN.f32 OUT.f32 CHANNELS [--freewheel] [--paced]
 *            [--announce MAX_BLOCK] [--set PARAMETER_URI=VALUE]... [--port CONTROL_PORT_SYMBOL=VALUE]...
 *
 * IN/OUT are raw float32, planar (all of channel 0, then channel 1). Parameters are sent once, before
 * the first block, as patch:Set messages on the plugin's atom control port (JUCE exposes them that way).
 * --announce: the maximum block length the host announces (default BLOCK), as Ardour announces 8,192
 * whatever it sends; --paced: run() follows the sample clock, like a sound card, instead of as fast as
 * it can. Prints a JSON line with the latency the plugin reports on its lv2:latency output port after
 * the first block and at the end, and the frame of the block after which it first changed (-1: never).
 */
#include <lilv/lilv.h>
#include <lv2/atom/atom.h>
#include <lv2/atom/forge.h>
#include <lv2/buf-size/buf-size.h>
#include <lv2/core/lv2.h>
#include <lv2/options/options.h>
#include <lv2/parameters/parameters.h>
#include <lv2/patch/patch.h>
#include <lv2/urid/urid.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_URIDS 512
#define MAX_SETS 16
#define ATOM_BUFFER_BYTES 65536

static char* urids[MAX_URIDS];
static int urid_count = 0;

static LV2_URID map_uri(LV2_URID_Map_Handle handle, const char* uri) {
  (void)handle;
  for (int i = 0; i < urid_count; ++i)
    if (strcmp(urids[i], uri) == 0) return (LV2_URID)(i + 1);
  if (urid_count == MAX_URIDS) return 0;
  urids[urid_count] = strdup(uri);
  return (LV2_URID)++urid_count;
}

static const char* unmap_uri(LV2_URID_Unmap_Handle handle, LV2_URID urid) {
  (void)handle;
  return (urid >= 1 && (int)urid <= urid_count) ? urids[urid - 1] : NULL;
}

static float* read_file(const char* path, long* count) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long bytes = ftell(f);
  fseek(f, 0, SEEK_SET);
  float* data = malloc((size_t)bytes);
  *count = (long)fread(data, sizeof(float), (size_t)bytes / sizeof(float), f);
  fclose(f);
  return data;
}

/* Splits "KEY=VALUE" in place (at the last '='); returns 0 when there is no '='. */
static int split_assignment(char* spec, const char** key, float* value) {
  char* eq = strrchr(spec, '=');
  if (!eq) return 0;
  *eq = '\0';
  *key = spec;
  *value = (float)atof(eq + 1);
  return 1;
}

static int fail(const char* message, const char* detail) {
  fprintf(stderr, "lv2_host: %s%s%s\n", message, detail ? ": " : "", detail ? detail : "");
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 8)
    return fail("usage: lv2_host BUNDLE URI RATE BLOCK IN.f32 OUT.f32 CHANNELS [--freewheel] [--paced] "
                "[--announce MAX_BLOCK] [--set URI=VALUE]... [--port SYMBOL=VALUE]...", NULL);
  const char* bundle = argv[1];
  const char* plugin_uri = argv[2];
  const double rate = atof(argv[3]);
  const int block = atoi(argv[4]);
  const int channels = atoi(argv[7]);
  int freewheel = 0, paced = 0, announce = block, set_count = 0, port_set_count = 0;
  const char* set_uri[MAX_SETS];
  float set_value[MAX_SETS];
  const char* port_symbol[MAX_SETS];
  float port_value[MAX_SETS];
  for (int i = 8; i < argc; ++i) {
    if (strcmp(argv[i], "--freewheel") == 0) {
      freewheel = 1;
    } else if (strcmp(argv[i], "--paced") == 0) {
      paced = 1;
    } else if (strcmp(argv[i], "--announce") == 0 && i + 1 < argc) {
      announce = atoi(argv[++i]);
      if (announce < block) return fail("--announce needs at least BLOCK frames", argv[i]);
    } else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc && set_count < MAX_SETS) {
      if (!split_assignment(argv[++i], &set_uri[set_count], &set_value[set_count])) return fail("--set needs URI=VALUE", argv[i]);
      ++set_count;
    } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc && port_set_count < MAX_SETS) {
      if (!split_assignment(argv[++i], &port_symbol[port_set_count], &port_value[port_set_count]))
        return fail("--port needs SYMBOL=VALUE", argv[i]);
      ++port_set_count;
    } else {
      return fail("unknown argument", argv[i]);
    }
  }

  long samples = 0;
  float* input = read_file(argv[5], &samples);
  if (!input) return fail("cannot read input", argv[5]);
  const long frames = samples / channels;
  float* output = calloc((size_t)samples, sizeof(float));

  LilvWorld* world = lilv_world_new();
  char bundle_uri[4096];
  snprintf(bundle_uri, sizeof bundle_uri, "file://%s/", bundle);
  LilvNode* bundle_node = lilv_new_uri(world, bundle_uri);
  lilv_world_load_bundle(world, bundle_node);
  LilvNode* uri_node = lilv_new_uri(world, plugin_uri);
  const LilvPlugin* plugin = lilv_plugins_get_by_uri(lilv_world_get_all_plugins(world), uri_node);
  if (!plugin) return fail("plugin not found in bundle", plugin_uri);

  LV2_URID_Map map = {NULL, map_uri};
  LV2_URID_Unmap unmap = {NULL, unmap_uri};
  const int32_t min_block = 1, max_block = announce;
  const float sample_rate = (float)rate;
  LV2_Options_Option options[] = {
      {LV2_OPTIONS_INSTANCE, 0, map_uri(NULL, LV2_BUF_SIZE__minBlockLength), sizeof(int32_t), map_uri(NULL, LV2_ATOM__Int), &min_block},
      {LV2_OPTIONS_INSTANCE, 0, map_uri(NULL, LV2_BUF_SIZE__maxBlockLength), sizeof(int32_t), map_uri(NULL, LV2_ATOM__Int), &max_block},
      {LV2_OPTIONS_INSTANCE, 0, map_uri(NULL, LV2_BUF_SIZE__nominalBlockLength), sizeof(int32_t), map_uri(NULL, LV2_ATOM__Int), &max_block},
      {LV2_OPTIONS_INSTANCE, 0, map_uri(NULL, LV2_PARAMETERS__sampleRate), sizeof(float), map_uri(NULL, LV2_ATOM__Float), &sample_rate},
      {LV2_OPTIONS_INSTANCE, 0, 0, 0, 0, NULL}};
  LV2_Feature map_feature = {LV2_URID__map, &map};
  LV2_Feature unmap_feature = {LV2_URID__unmap, &unmap};
  LV2_Feature options_feature = {LV2_OPTIONS__options, options};
  LV2_Feature bounded_feature = {LV2_BUF_SIZE__boundedBlockLength, NULL};
  const LV2_Feature* features[] = {&map_feature, &unmap_feature, &options_feature, &bounded_feature, NULL};

  LilvInstance* instance = lilv_plugin_instantiate(plugin, rate, features);
  if (!instance) return fail("instantiation failed", plugin_uri);

  LilvNode* audio_class = lilv_new_uri(world, LV2_CORE__AudioPort);
  LilvNode* control_class = lilv_new_uri(world, LV2_CORE__ControlPort);
  LilvNode* atom_class = lilv_new_uri(world, LV2_ATOM__AtomPort);
  LilvNode* input_class = lilv_new_uri(world, LV2_CORE__InputPort);
  LilvNode* freewheel_designation = lilv_new_uri(world, LV2_CORE__freeWheeling);
  LilvNode* latency_designation = lilv_new_uri(world, LV2_CORE__latency);
  LilvNode* designation_predicate = lilv_new_uri(world, LV2_CORE__designation);

  const uint32_t port_count = lilv_plugin_get_num_ports(plugin);
  float* controls = calloc(port_count, sizeof(float));
  float* audio_in[8] = {0};
  float* audio_out[8] = {0};
  int n_in = 0, n_out = 0;
  LV2_Atom_Sequence* atom_in = NULL;
  int latency_port = -1;
  for (uint32_t p = 0; p < port_count; ++p) {
    const LilvPort* port = lilv_plugin_get_port_by_index(plugin, p);
    const int is_input = lilv_port_is_a(plugin, port, input_class);
    if (lilv_port_is_a(plugin, port, audio_class)) {
      float* buffer = calloc((size_t)block, sizeof(float));
      if (is_input && n_in < 8) audio_in[n_in++] = buffer;
      else if (!is_input && n_out < 8) audio_out[n_out++] = buffer;
      lilv_instance_connect_port(instance, p, buffer);
    } else if (lilv_port_is_a(plugin, port, control_class)) {
      LilvNode* default_value = NULL;
      lilv_port_get_range(plugin, port, &default_value, NULL, NULL);
      controls[p] = default_value ? lilv_node_as_float(default_value) : 0.0f;
      lilv_node_free(default_value);
      LilvNodes* designations = lilv_port_get_value(plugin, port, designation_predicate);
      const LilvNode* designation = designations ? lilv_nodes_get_first(designations) : NULL;
      if (designation && lilv_node_equals(designation, freewheel_designation)) controls[p] = (float)freewheel;
      if (designation && lilv_node_equals(designation, latency_designation)) latency_port = (int)p;
      lilv_nodes_free(designations);
      const char* symbol = lilv_node_as_string(lilv_port_get_symbol(plugin, port));
      for (int s = 0; s < port_set_count; ++s)
        if (strcmp(symbol, port_symbol[s]) == 0) controls[p] = port_value[s];
      lilv_instance_connect_port(instance, p, &controls[p]);
    } else if (lilv_port_is_a(plugin, port, atom_class)) {
      LV2_Atom_Sequence* buffer = aligned_alloc(64, ATOM_BUFFER_BYTES);
      memset(buffer, 0, ATOM_BUFFER_BYTES);
      if (is_input) atom_in = buffer;
      lilv_instance_connect_port(instance, p, buffer);
    } else {
      lilv_instance_connect_port(instance, p, NULL);
    }
  }
  if (n_in < channels || n_out < channels) return fail("plugin has fewer audio ports than channels", NULL);

  lilv_instance_activate(instance);
  struct timespec clock_start;
  clock_gettime(CLOCK_MONOTONIC, &clock_start);
  int first_latency = -1, last_latency = -1;
  long changed_at = -1;
  LV2_Atom_Forge forge;
  lv2_atom_forge_init(&forge, &map);
  for (long start = 0; start < frames; start += block) {
    const int n = (int)((frames - start) < block ? (frames - start) : block);
    if (atom_in) {
      lv2_atom_forge_set_buffer(&forge, (uint8_t*)atom_in, ATOM_BUFFER_BYTES);
      LV2_Atom_Forge_Frame sequence_frame;
      lv2_atom_forge_sequence_head(&forge, &sequence_frame, 0);
      for (int s = 0; start == 0 && s < set_count; ++s) {
        LV2_Atom_Forge_Frame object_frame;
        lv2_atom_forge_frame_time(&forge, 0);
        lv2_atom_forge_object(&forge, &object_frame, 0, map_uri(NULL, LV2_PATCH__Set));
        lv2_atom_forge_key(&forge, map_uri(NULL, LV2_PATCH__property));
        lv2_atom_forge_urid(&forge, map_uri(NULL, set_uri[s]));
        lv2_atom_forge_key(&forge, map_uri(NULL, LV2_PATCH__value));
        lv2_atom_forge_float(&forge, set_value[s]);
        lv2_atom_forge_pop(&forge, &object_frame);
      }
      lv2_atom_forge_pop(&forge, &sequence_frame);
    }
    for (int c = 0; c < channels; ++c) memcpy(audio_in[c], input + (long)c * frames + start, (size_t)n * sizeof(float));
    lilv_instance_run(instance, (uint32_t)n);
    for (int c = 0; c < channels; ++c) memcpy(output + (long)c * frames + start, audio_out[c], (size_t)n * sizeof(float));
    const int latency = latency_port >= 0 ? (int)controls[latency_port] : -1;
    if (start == 0) first_latency = latency;
    else if (changed_at < 0 && latency != last_latency) changed_at = start;
    last_latency = latency;
    if (paced) {  /* sleep until the sound card would ask for the next block */
      const double due = (double)(start + n) / rate;
      struct timespec wake = clock_start;
      wake.tv_sec += (time_t)due;
      wake.tv_nsec += (long)((due - (double)(time_t)due) * 1e9);
      if (wake.tv_nsec >= 1000000000L) { wake.tv_sec += 1; wake.tv_nsec -= 1000000000L; }
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &wake, NULL);
    }
  }
  lilv_instance_deactivate(instance);

  FILE* out = fopen(argv[6], "wb");
  if (!out) return fail("cannot write output", argv[6]);
  fwrite(output, sizeof(float), (size_t)samples, out);
  fclose(out);
  printf("{\"latency\": %d, \"first_latency\": %d, \"changed_at\": %ld}\n", last_latency, first_latency, changed_at);
  lilv_instance_free(instance);
  lilv_world_free(world);
  return 0;
}

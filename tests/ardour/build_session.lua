-- Builds an Ardour session headless (ardour7-lua, Dummy backend): one stereo audio track
-- carrying our LV2 plugin, with the plugin's LV2 patch properties set, then saves it.
--
-- usage: ardour7-lua build_session.lua SESSION_DIR NAME PLUGIN_URI [key=value ...]
-- The keys are the plugin's parameter symbols (mix, feedback, ...): JUCE's LV2 wrapper exposes
-- them as LV2 patch:writable properties, which Ardour turns into "property-URI:key" controls.
-- Prints "LMDM_RESULT key=value" lines the test reads back.

local dir, name, uri = arg[1], arg[2], arg[3]
assert(dir and name and uri, "usage: build_session.lua DIR NAME URI [key=value ...]")

local s = create_session(dir, name, 48000)
assert(s, "could not create the session " .. dir)
print("LMDM_RESULT backend=" .. AudioEngine:current_backend_name())
print("LMDM_RESULT block_size=" .. s:get_block_size())

local tracks = s:new_audio_track(2, 2, nil, 1, "Guitar",
	ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true)
assert(tracks:size() == 1, "could not add the track")
local track = tracks:front()

local proc = ARDOUR.LuaAPI.new_plugin(s, uri, ARDOUR.PluginType.LV2, "")
assert(not proc:isnil(), "LV2 plugin not found: " .. uri .. " (is its bundle on LV2_PATH?)")
assert(track:add_processor_by_index(proc, 0, nil, true) == 0, "could not add the plugin")

-- Set the requested properties through their automation controls.
local wanted = {}
for i = 4, #arg do
	local k, v = string.match(arg[i], "^([%w_]+)=(.+)$")
	assert(k, "bad key=value argument: " .. arg[i])
	wanted[k] = tonumber(v)
end
local auto = proc:to_automatable()
for param in auto:all_automatable_params():iter() do
	local ctrl = auto:automation_control(param, false)
	if not ctrl:isnil() then
		-- property controls are named "property-<plugin URI>:<symbol>"
		local key = string.match(ctrl:name(), "^property%-" .. uri:gsub("%p", "%%%0") .. ":([%w_]+)$")
		if key and wanted[key] ~= nil then
			ctrl:set_value(wanted[key], PBD.GroupControlDisposition.NoGroup)
			print("LMDM_RESULT set_" .. key .. "=" .. wanted[key])
			wanted[key] = nil
		end
	end
end
for k, _ in pairs(wanted) do error("plugin has no property " .. k) end

-- The properties reach the plugin as patch:Set messages in its next run() calls: let the
-- engine process a few cycles so the plugin's own state (saved via LV2 state) has them.
for _ = 1, 8 do ARDOUR.LuaAPI.wait_for_process_callback(1, 1000000) end
sleep(0.5)

print("LMDM_RESULT plugin_latency=" .. proc:signal_latency())
s:save_state("", false, false, false, false, false)
close_session()
print("LMDM_RESULT saved=1")

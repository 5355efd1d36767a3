"""Drives Ardour 7 headless: builds a session with our LV2 plugin on an audio track (ardour7-lua,
Dummy backend), places a clip on the track's playlist, and exports the master bus (ardour7-export).

Ardour's session-scripting Lua has no audio import (Editor:do_import is GUI only), so the clip goes in
the way Ardour itself stores a recorded take: two mono files in interchange/<session folder>/audiofiles, two
<Source> entries, a whole-file <Region>, a <Region> on the track's <Playlist>, and the session range
<Location>, all written into the saved session XML before the export tool loads it."""

import os
import re
import shutil
import signal
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import soundfile as sf

from juce_vst3_state import juce_base64_decode

HERE = Path(__file__).resolve().parent
LUA = shutil.which("ardour7-lua")
EXPORT = shutil.which("ardour7-export")
SAMPLE_RATE = 48000
SUPERCLOCK_RATE = 282240000  # Temporal::superclock_ticks_per_second in Ardour 7

# ardour7-export 7.3 (Debian 12) has two races of its own, reproduced with no plugin on the track at all
# (docs/reliability.md, "Ardour's exporter"): the tool's main thread tears the export down while the
# engine's process thread is still finishing the timespan (ExportGraphBuilder::reset), and glibc aborts
# on the double free; and the start of an export can deadlock (Butler::wait_until_finished against
# butler_transport_work). Those two outcomes, and only they, are run again; the test reports each one.
EXPORT_ATTEMPTS = 3
EXPORT_TIMEOUT = 90  # seconds; the model's export takes 5-15 s on 2 cores
HEAP_ABORT = re.compile(r"double free or corruption|free\(\): invalid|munmap_chunk\(\): invalid|corrupted")


def ardour_env(bundle, home):
    """Environment for the Ardour tools: our bundle's folder on LV2_PATH (then the usual LV2 folders),
    and Ardour's config, cache and data folders under `home`, so neither the user's Ardour settings
    nor their plugin cache affect the test and the test writes nothing there."""
    env = dict(os.environ)
    for variable in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        env[variable] = str(Path(home) / variable.lower())
    lv2_dirs = [str(Path(bundle).parent)]
    lv2_dirs += [d for d in env.get("LV2_PATH", "").split(":") if d]
    lv2_dirs += [d for d in ("/usr/lib/lv2", "/usr/local/lib/lv2", str(Path.home() / ".lv2")) if d not in lv2_dirs]
    env["LV2_PATH"] = ":".join(lv2_dirs)
    return env


def _run(command, env, timeout):
    return _checked(command, subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                            env=env, timeout=timeout))


def _checked(command, result):
    """The tool's log, or an error with it if the tool failed."""
    log = result.stdout + result.stderr
    # ardour7-lua exits 0 even when the script raises: look for its "Error:" line as well.
    if result.returncode != 0 or re.search(r"^Error: ", log, re.M):
        raise RuntimeError(f"{command[0]} failed (rc {result.returncode}):\n{log}")
    return log


def build_session(session_dir, name, bundle, uri, properties, env, timeout=60):
    """Runs build_session.lua; returns its LMDM_RESULT values and the full log."""
    command = [LUA, str(HERE / "build_session.lua"), str(session_dir), name, uri]
    command += [f"{key}={value}" for key, value in properties.items()]
    log = _run(command, env, timeout)
    results = dict(re.findall(r"^LMDM_RESULT (\w+)=(.*)$", log, re.M))
    if results.get("saved") != "1":
        raise RuntimeError(f"the session was not saved:\n{log}")
    return results, log


def _timepos(samples):
    return f"a{int(samples) * SUPERCLOCK_RATE // SAMPLE_RATE}"


def add_clip(session_dir, name, audio, track="Guitar", tail_seconds=1.0):
    """Puts `audio` (frames x 2, float32, 48 kHz) on `track` at position 0 and sets the session range
    to the clip plus `tail_seconds`. Returns the session range length in samples."""
    session_dir = Path(session_dir)
    frames = audio.shape[0]
    # Ardour names the folder after the session folder (not the snapshot name) and created it already;
    # a source it cannot find makes the export tool wait for an answer, so take the folder it made.
    folders = sorted((session_dir / "interchange").glob("*/audiofiles"))
    assert len(folders) == 1, f"expected one interchange/*/audiofiles folder, found {folders}"
    audiofiles = folders[0]
    files = []
    for channel, side in enumerate("LR"):
        filename = f"clip%{side}.wav"
        sf.write(audiofiles / filename, audio[:, channel], SAMPLE_RATE, subtype="FLOAT")
        files.append(filename)

    state = session_dir / f"{name}.ardour"
    tree = ET.parse(state)
    root = tree.getroot()
    next_id = int(root.get("id-counter")) + 1

    def new_id():
        nonlocal next_id
        next_id += 1
        return str(next_id - 1)

    sources = root.find("Sources")
    source_ids = []
    for filename in files:
        source_ids.append(new_id())
        ET.SubElement(sources, "Source", {
            "name": filename, "type": "audio", "flags": "", "id": source_ids[-1],
            "natural-position": "a0", "channel": "0", "origin": "", "gain": "1"})

    def region(parent, region_name, whole_file):
        attributes = {
            "name": region_name, "muted": "0", "opaque": "1", "locked": "0", "video-locked": "0",
            "automatic": "0", "whole-file": "1" if whole_file else "0", "import": "0",
            "external": "0", "sync-marked": "0", "left-of-split": "0", "right-of-split": "0",
            "hidden": "0", "position-locked": "0", "valid-transients": "0", "start": "a0",
            "length": f"{_timepos(frames)}@a0", "sync-position": "a0", "ancestral-start": "a0",
            "ancestral-length": "a0@a0", "stretch": "1", "shift": "1", "layering-index": "0",
            "tags": "", "contents": "0", "envelope-active": "0", "default-fade-in": "0",
            "default-fade-out": "0", "fade-in-active": "0", "fade-out-active": "0",
            "scale-amplitude": "1", "id": new_id(), "type": "audio", "first-edit": "nothing",
            "channels": "2"}
        for channel, source_id in enumerate(source_ids):
            attributes[f"source-{channel}"] = source_id
            attributes[f"master-source-{channel}"] = source_id
        return ET.SubElement(parent, "Region", attributes)

    region(root.find("Regions"), "clip", True)
    route = next(r for r in root.find("Routes") if r.get("name") == track)
    playlist = next(p for p in root.find("Playlists") if p.get("id") == route.get("audio-playlist"))
    region(playlist, "clip.1", False)

    range_end = frames + int(tail_seconds * SAMPLE_RATE)
    ET.SubElement(root.find("Locations"), "Location", {
        "id": new_id(), "name": "session", "start": "a0", "end": _timepos(range_end),
        "flags": "IsSessionRange", "locked": "0", "timestamp": "0", "cue": "0"})

    root.set("id-counter", str(next_id))
    tree.write(state, encoding="UTF-8", xml_declaration=True)
    return range_end


def plugin_state(session_dir):
    """Decodes the state our plugin saved through LV2 state (JUCE's base64 variant) as text."""
    ttls = sorted(Path(session_dir, "plugins").glob("*/state*/state.ttl"))
    found = re.search(r'StateString> "(\d+\.[^"]*)"', ttls[-1].read_text())
    return juce_base64_decode(found.group(1)).decode()


def export(session_dir, name, target, env, timeout=EXPORT_TIMEOUT):
    """ardour7-export: the session range of the master bus as float WAV. Returns the audio, the log and
    the attempts lost to the exporter's own races (see EXPORT_ATTEMPTS), each with what happened."""
    command = [EXPORT, "-b", "float", "-o", str(target), str(session_dir), name]
    lost = []
    for attempt in range(1, EXPORT_ATTEMPTS + 1):
        Path(target).unlink(missing_ok=True)
        try:
            result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
                                    timeout=timeout)
        except subprocess.TimeoutExpired:
            lost.append(f"attempt {attempt}: no end after {timeout} s")
            continue
        heap_abort = HEAP_ABORT.search(result.stdout + result.stderr)
        if result.returncode == -signal.SIGABRT and heap_abort:
            lost.append(f"attempt {attempt}: aborted, {heap_abort.group(0)}")
            continue
        log = _checked(command, result)
        if not Path(target).exists():
            raise RuntimeError(f"no export written:\n{log}")
        audio, rate = sf.read(target, dtype="float32", always_2d=True)
        assert rate == SAMPLE_RATE
        return audio, log, lost
    raise RuntimeError(f"{command[0]} failed {EXPORT_ATTEMPTS} times: {lost}")


def lag_by_xcorr(reference, signal, max_lag):
    """The lag (in samples, signal later = positive) maximising the cross-correlation."""
    n = 1 << int(np.ceil(np.log2(len(reference) + len(signal))))
    spectrum = np.fft.rfft(signal, n) * np.conj(np.fft.rfft(reference, n))
    xcorr = np.fft.irfft(spectrum, n)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    return int(lags[np.argmax(xcorr[lags])])

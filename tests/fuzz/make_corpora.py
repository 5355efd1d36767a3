"""Seed corpora for the fuzz targets (tests/fuzz/fuzz_*.cpp), made from real files of the project.

    python tests/fuzz/make_corpora.py --out build-fuzz/fuzz-seeds

writes <out>/package (a tiny valid model package: the targets that damage a package copy it) and
<out>/<target>/ seed inputs: saved plugin states, that package's manifest and prompt bank and the
shipped one's, the fixtures' safetensors files, short WAV/FLAC/OGG files, and package damages.
Rebuilt only when missing: delete <out> to make it again.
"""

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "python"))
from tiny_package import make_tiny_package  # noqa: E402

SHIPPED = REPO / "models" / "lmdm-live"
PARAMETERS = REPO / "plugin" / "engine" / "include" / "lmdm" / "Parameters.h"


def state_seeds() -> dict[str, bytes]:
    keys = re.findall(r'\{ParameterId::\w+, "(\w+)"', PARAMETERS.read_text())
    assert len(keys) >= 10, f"parameter keys not found in {PARAMETERS}"
    full = "LMDM-STATE 1\n" + "".join(f"{key}=0.5\n" for key in keys)
    return {"defaults": full.encode(),
            "session": (full + "model_folder=/home/player/models/lmdm-live\nprovider=cpu\n").encode(),
            "odd-values": b"LMDM-STATE 1\nmix=1e300\nsteps=-7\nguidance=nan\nseed=1,5\nprovider=CUDA\n",
            "not-ours": b"VC2!\x00\x00\x01\x00<xml/>"}


def audio_seeds(folder: Path) -> None:
    rng = np.random.default_rng(0)
    mono = (0.3 * rng.standard_normal(2205)).astype(np.float32)
    stereo = np.stack([mono, mono[::-1]], axis=1)
    for name, data, rate, subtype in (("mono16.wav", mono, 44100, "PCM_16"),
                                      ("stereo-float.wav", stereo, 48000, "FLOAT"),
                                      ("mono24.flac", mono, 22050, "PCM_24"), ("stereo.ogg", stereo, 48000, "VORBIS")):
        sf.write(folder / name, data, rate, subtype=subtype)


def package_seeds(package: Path) -> dict[str, bytes]:
    """First byte: which file (sorted names, as PackageDamage.h lists them); second: which damage."""
    files = sorted(p.name for p in package.iterdir() if p.is_file())
    seeds = {}
    for index, name in enumerate(files):
        for damage in range(4):
            seeds[f"{name}-{damage}"] = bytes([index, damage]) + (1234).to_bytes(4, "little") + b"\x01\x80\xff\x00" * 4
    return seeds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    out = parser.parse_args().out
    targets = ("fuzz_state", "fuzz_manifest", "fuzz_prompts", "fuzz_safetensors", "fuzz_package", "fuzz_package_load",
               "fuzz_audio")
    if (out / "complete").exists() and (out / "complete").read_text() == " ".join(targets):
        return 0  # made before, for the same targets
    shutil.rmtree(out, ignore_errors=True)
    work = out / "work"
    work.mkdir(parents=True)
    package, _ = make_tiny_package(work)
    shutil.move(str(package), out / "package")
    shutil.rmtree(work)
    package = out / "package"
    corpora = {name: out / name for name in targets}
    for folder in corpora.values():
        folder.mkdir()
    for name, data in state_seeds().items():
        (corpora["fuzz_state"] / name).write_bytes(data)
    shutil.copy(package / "manifest.json", corpora["fuzz_manifest"] / "tiny")
    manifest = json.loads((SHIPPED / "manifest.json").read_text())
    manifest["stream"]["start_latents"] = manifest["stream"]["start_latents"][:2]
    (corpora["fuzz_manifest"] / "shipped-shortened").write_text(json.dumps(manifest))
    bank = json.loads((SHIPPED / "prompts.json").read_text())
    (corpora["fuzz_prompts"] / "shipped-one").write_text(json.dumps(bank | {"prompts": bank["prompts"][:1]}))
    (corpora["fuzz_prompts"] / "shipped-two").write_text(json.dumps(bank | {"prompts": bank["prompts"][:2]}))
    for fixture in sorted((package / "fixtures").glob("*.safetensors")):
        shutil.copy(fixture, corpora["fuzz_safetensors"] / fixture.name)
    for name, data in package_seeds(package).items():
        (corpora["fuzz_package"] / name).write_bytes(data)
        (corpora["fuzz_package_load"] / name).write_bytes(data)
    audio_seeds(corpora["fuzz_audio"])
    (out / "complete").write_text(" ".join(targets))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The data pipeline on tiny builds: rendering, stems, splits, captions, skips, resume, BYO, clips, loading."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lmdm.data import examples as examples_module
from lmdm.data.build import build, piece_streams, stream_hours
from lmdm.data.byo import build_from_folder
from lmdm.data.clips import make_clips
from lmdm.data.config import DataConfig
from lmdm.data.corpus import Piece, list_pieces, split_of
from lmdm.data.examples import process_piece
from lmdm.data.instruments import GUITARS
from lmdm.data.loader import ShardDataset, ShardError, read_shard, shard_paths
from lmdm.data.shards import read_manifest
from lmdm.data.summary import summarise

REPO = Path(__file__).resolve().parents[3]
TINY = dict(collections=("bach", "essenFolksong"), train_hours=0.03, shard_megabytes=1, workers=2)


def tiny_config(output: Path, **overrides) -> DataConfig:
    return DataConfig(output=output, **(TINY | overrides))


def shard_digests(root: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.glob("*.tar"))}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny") / "data"
    build(tiny_config(root))
    return root


@pytest.fixture(scope="module")
def loaded(tiny) -> list[dict]:
    return [ex for split in ("train", "valid", "test") for ex in ShardDataset(tiny, split)]


def test_build_writes_manifest_summary_card_and_enough_train_audio(tiny):
    summary = json.loads((tiny / "summary.json").read_text())
    assert summary["hours"]["train"] >= TINY["train_hours"]
    assert (tiny / "CARD.md").read_text().startswith("# Data card")
    assert (tiny / "instruments.png").stat().st_size > 1000
    assert not (tiny / "work").exists()  # packed and cleaned up
    assert len(read_manifest(tiny)) == sum(summary["examples"].values())


def test_examples_are_real_audio_of_the_stated_length(loaded):
    for example in loaded:
        meta, mix = example["meta"], example["mix"]
        assert meta["sample_rate"] == 22050
        assert len(mix) == round(meta["seconds"] * 22050)
        assert 4.0 <= meta["seconds"] <= 30.0
        rms_db = 10 * np.log10(np.mean(mix.astype(np.float64) ** 2))
        assert rms_db > -60, meta["key"]
        assert np.max(np.abs(mix)) <= 10 ** (-1 / 20) + 1e-3  # peak levels are drawn from -12..-1 dBFS


def test_stems_are_sample_aligned_and_add_up_to_the_mix(loaded):
    for example in loaded:
        stems, mix = example["stems"], example["mix"]
        assert len(stems) == len(example["meta"]["parts"]) >= 1
        assert all(len(s) == len(mix) for s in stems)
        residual = mix.astype(np.float64) - np.sum(stems, axis=0)
        # exact in float; 16-bit files round the mix and each stem by at most half an LSB each
        assert np.max(np.abs(residual)) <= (len(stems) + 1) * 0.5 / 32768 + 1e-9


def test_a_stem_sounds_where_its_part_plays(loaded):
    """Shifting a stem by 100 ms breaks the sum: alignment is sample-exact, not approximate."""
    example = next(e for e in loaded if len(e["stems"]) > 1)
    shifted = np.roll(example["stems"][0], 2205)
    residual = example["mix"] - shifted - np.sum(example["stems"][1:], axis=0)
    assert 10 * np.log10(np.mean(residual**2) / np.mean(example["mix"] ** 2)) > -20


def test_both_textures_both_soundfonts_and_metadata(loaded):
    kinds = {e["meta"]["kind"] for e in loaded}
    assert {"solo", "ensemble"} <= kinds
    for example in loaded:
        meta = example["meta"]
        assert meta["original_key"].split()[1] in ("major", "minor")
        assert -5 <= meta["transpose"] < 6 and 0.8 <= meta["tempo_factor"] <= 1.25
        assert all(0 <= p["program"] < 128 and p["instrument"] for p in meta["parts"])


def test_captions_state_the_instruments_key_and_texture(loaded):
    for example in loaded:
        meta = example["meta"]
        captions = meta["captions"]
        assert len(captions) == len(set(captions)) == 5
        key = meta["caption_facts"]["key"]
        assert sum(key in c for c in captions) >= 3
        for part in meta["parts"]:
            assert any(part["instrument"] in c for c in captions)
        if meta["kind"] == "solo":
            assert captions[0].startswith(f"solo {meta['parts'][0]['instrument']}")


def test_no_piece_is_in_two_splits(tiny):
    manifest = read_manifest(tiny)
    split_of_piece: dict[str, str] = {}
    for example in manifest:
        assert split_of_piece.setdefault(example["piece_id"], example["split"]) == example["split"]
        assert example["shard"].startswith(example["split"] + "-")


def test_splits_are_by_piece_deterministic_and_in_proportion():
    pieces = list_pieces(("essenFolksong", "bach"))
    splits = [split_of(p.piece_id, 0, (0.9, 0.05, 0.05)) for p in pieces]
    assert splits == [split_of(p.piece_id, 0, (0.9, 0.05, 0.05)) for p in pieces]
    share = {s: splits.count(s) / len(splits) for s in ("train", "valid", "test")}
    assert abs(share["train"] - 0.9) < 0.02 and abs(share["test"] - 0.05) < 0.01  # 8,900 draws: 3 sigma < 1%
    other_seed = [split_of(p.piece_id, 1, (0.9, 0.05, 0.05)) for p in pieces]
    assert other_seed != splits
    tunes = [p for p in pieces if p.tune_number is not None]
    assert len(tunes) > 8000 and len({p.piece_id for p in pieces}) == len(pieces)  # tunes, not files


def test_rebuild_is_bit_identical_with_any_worker_count(tiny, tmp_path):
    again = tmp_path / "again"
    build(tiny_config(again, workers=1))
    assert shard_digests(again) == shard_digests(tiny)
    assert (again / "manifest.jsonl").read_bytes() == (tiny / "manifest.jsonl").read_bytes()


def test_killed_build_resumes_where_it_stopped(tiny, tmp_path):
    output = tmp_path / "resumed"
    command = [sys.executable, "-m", "lmdm.data", "build", "--output", str(output), "--collections", "bach",
               "essenFolksong", "--train-hours", str(TINY["train_hours"]), "--shard-megabytes", "1", "--workers", "2"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.time() + 120
    while not list((output / "work").glob("*/record.json")) and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the whole process group: main process and render workers
    process.wait()
    finished = {p.parent.name: p.stat().st_mtime_ns for p in (output / "work").glob("*/record.json")}
    assert finished and not (output / "summary.json").exists()
    subprocess.run(command + ["--keep-work"], cwd=REPO, check=True, capture_output=True)
    kept = {name: (output / "work" / name / "record.json").stat().st_mtime_ns for name in finished}
    assert kept == finished  # finished pieces were reused, not rendered again
    assert shard_digests(output) == shard_digests(tiny)


def test_changed_config_is_refused_for_an_existing_build(tiny):
    with pytest.raises(ValueError, match="different config"):
        build(tiny_config(tiny, seed=7))


def _abc_piece(tmp_path: Path, name: str, body: str) -> Piece:
    path = tmp_path / f"{name}.abc"
    path.write_text(f"X:1\nT:{name}\nM:4/4\nL:1/4\nK:C\n{body}\n")
    return Piece(f"test/{name}", "essenFolksong", path)


@pytest.mark.parametrize("name, body, reason", [
    ("garbage", None, "unparsable score"),
    ("rests", "z4|z4|z4|z4|", "no notes"),
    ("short", "C D|", "too short"),
])
def test_bad_pieces_are_skipped_with_a_reason(tmp_path, name, body, reason):
    if body is None:
        path = tmp_path / "garbage.krn"
        path.write_bytes(b"**kern\n*M4/4\n4qq\x00\xff\n*-\n=== not humdrum")
        piece = Piece("test/garbage", "bach", path)
    else:
        piece = _abc_piece(tmp_path, name, body)
    record = process_piece(piece, "train", tiny_config(tmp_path), tmp_path / "work")
    assert record["status"] == "skipped" and reason in record["reason"]
    assert (tmp_path / "work" / piece.key / "record.json").exists()  # a resumed build will not retry it


def test_silent_render_is_skipped_and_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(examples_module, "render_stem", lambda stem, font, rate, n: np.zeros(n, np.float32))
    piece = _abc_piece(tmp_path, "tune", "C D E F|G A B c|c B A G|F E D C|" * 3)
    record = process_piece(piece, "train", tiny_config(tmp_path), tmp_path / "work")
    assert record["status"] == "skipped" and record["reason"].startswith("silent render")
    summary = summarise([record], [], {"train": [], "valid": [], "test": []}, {}, 1.0)
    assert summary["skipped_by_reason"] == {"silent render": 1}


def test_bring_your_own_audio(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    t = np.arange(int(44100 * 6.0)) / 44100
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    sf.write(folder / "tone_a.wav", np.stack([tone, tone], axis=1), 44100)  # stereo 44.1 kHz
    sf.write(folder / "quiet.flac", np.zeros(44100 * 5), 44100)
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00not really a wave file")
    (folder / "captions.csv").write_text("file,caption\ntone_a.wav,a pure sine at A4\n")
    summary = build_from_folder(folder, folder / "captions.csv", replace(tiny_config(tmp_path / "byo"), workers=1))
    assert summary["pieces"]["used"] == 1 and summary["pieces"]["skipped"] == 2
    assert summary["skipped_by_reason"] == {"silent file": 1, "unreadable audio": 1}
    (example,) = [e for split in ("train", "valid", "test") for e in ShardDataset(tmp_path / "byo", split)]
    assert example["meta"]["captions"] == ["a pure sine at A4"]
    assert len(example["mix"]) == 22050 * 6  # soxr, 44.1 -> 22.05 kHz, exact length
    spectrum = np.abs(np.fft.rfft(example["mix"]))
    assert abs(np.argmax(spectrum) * 22050 / len(example["mix"]) - 440) < 1


def test_guitar_clips_come_from_test_pieces(tmp_path):
    clips = make_clips(tiny_config(tmp_path), tmp_path / "clips", monophonic=1, chordal=1)
    assert sorted(c["kind"] for c in clips) == ["chordal", "solo"]
    for clip in clips:
        assert split_of(clip["piece_id"], 0, (0.9, 0.05, 0.05)) == "test"
        assert clip["program"] in {g.program for g in GUITARS}
        audio, rate = sf.read(tmp_path / "clips" / clip["file"])
        assert rate == 22050 and 10.0 <= len(audio) / rate <= 25.0
        guitar = next(g for g in GUITARS if g.program == clip["program"])
        assert all(guitar.low <= pitch <= guitar.high for _, _, pitch in clip["notes"])
    solo = next(c for c in clips if c["kind"] == "solo")
    assert tracked_pitch_agreement(tmp_path / "clips" / solo["file"], solo["notes"]) > 0.9
    chordal = next(c for c in clips if c["kind"] == "chordal")
    onsets = [round(start, 2) for start, _, _ in chordal["notes"]]
    assert len(onsets) > len(set(onsets))  # chords: several notes start together


def tracked_pitch_agreement(path: Path, notes: list) -> float:
    """Share of voiced frames inside notes (past their attack) where the tracked pitch is within a
    quarter tone of the written one: the render plays the notes its metadata says it plays."""
    from lmdm.conditioning.controls import compute_controls

    audio, rate = sf.read(path, dtype="float32")
    controls = compute_controls(audio)
    times = np.arange(len(controls)) * 512 / rate
    written = np.full(len(times), np.nan)
    for start, end, pitch in notes:
        written[(times >= start + 0.05) & (times < end - 0.02)] = pitch
    judged = ~np.isnan(written) & (controls[:, 3] >= 0.5)
    assert judged.sum() > 0.5 * (~np.isnan(written)).sum()  # most note frames are voiced
    return float(np.mean(np.abs(controls[judged, 2] - written[judged]) < 0.5))


def test_committed_clips_are_what_the_clips_command_makes(tmp_path):
    committed = REPO / "assets" / "clips"
    clips = make_clips(DataConfig(), tmp_path, monophonic=3, chordal=2)
    assert json.loads((committed / "clips.json").read_text()) == clips
    for clip in clips:
        assert (tmp_path / clip["file"]).read_bytes() == (committed / clip["file"]).read_bytes()
        if clip["kind"] == "solo":  # measured on the committed clips: 99-100%
            assert tracked_pitch_agreement(committed / clip["file"], clip["notes"]) > 0.95


def test_loader_splits_shards_disjointly_across_ranks(tiny):
    everything = sorted(e["meta"]["key"] for e in ShardDataset(tiny, "train"))
    ranks = [sorted(e["meta"]["key"] for e in ShardDataset(tiny, "train", rank=r, world_size=2)) for r in (0, 1)]
    assert len(ShardDataset(tiny, "train").paths) >= 2
    assert sorted(ranks[0] + ranks[1]) == everything and not set(ranks[0]) & set(ranks[1])


def test_loader_with_dataloader_workers(tiny):
    import torch

    loader = torch.utils.data.DataLoader(ShardDataset(tiny, "train"), batch_size=None, num_workers=2)
    keys = sorted(e["meta"]["key"] for e in loader)
    assert keys == sorted(e["meta"]["key"] for shard in ShardDataset(tiny, "train").paths for e in read_shard(shard))


def test_cli_help_and_bad_values():
    run = lambda *a: subprocess.run([sys.executable, "-m", "lmdm.data", *a], cwd=REPO, capture_output=True, text=True)
    assert "--train-hours" in run("build", "--help").stdout
    bad = run("build", "--train-hours", "lots")
    assert bad.returncode != 0 and "not a valid float" in bad.stderr


def test_renditions_replay_a_piece_newly_arranged_in_the_same_split(tmp_path):
    piece = next(p for p in list_pieces(("essenFolksong",)) if p.piece_id == "essenFolksong/altdeu10#2")
    first, again = (process_piece(replace(piece, rendition=r), "train", tiny_config(tmp_path), tmp_path / "work")
                    for r in (0, 1))
    a, b = first["examples"][0], again["examples"][0]
    assert a["key"] != b["key"] and a["piece_id"] == b["piece_id"] and (a["rendition"], b["rendition"]) == (0, 1)
    assert (a["parts"], a["tempo_factor"], a["transpose"]) != (b["parts"], b["tempo_factor"], b["transpose"])
    assert split_of(replace(piece, rendition=1).piece_id, 0, (0.9, 0.05, 0.05)) == split_of(piece.piece_id, 0,
                                                                                            (0.9, 0.05, 0.05))


def test_focus_stream_plays_single_melodies_again_on_the_focus_instruments_only(tmp_path):
    config = tiny_config(tmp_path, focus_programs=(40, 42), focus_hours=0.01)
    streams = piece_streams(config)
    assert stream_hours(config, streams)["focus"] == 0.01
    assert {p.piece_id for p in streams["focus"]} == {p.piece_id for p in streams["solo"]}
    assert all(p.is_focus and p.key.endswith(f"_r{p.rendition}") for p in streams["focus"])
    programs = set()
    for piece in streams["focus"][:6]:
        record = process_piece(piece, "train", config, tmp_path / "work")
        programs |= {part["program"] for e in record["examples"] for part in e["parts"]}
        assert all(e["kind"] == "solo" and e["rendition"] == piece.rendition for e in record["examples"])
    assert programs and programs <= {40, 42}
    assert "focus" not in piece_streams(tiny_config(tmp_path))  # off by default: older builds stay as they were


def test_focus_programs_must_be_solo_instruments_and_older_builds_stay_valid(tiny, tmp_path):
    with pytest.raises(ValueError, match="not monophonic palette instruments"):
        DataConfig(focus_programs=(0,))  # the piano plays chords
    summary = json.loads((tiny / "summary.json").read_text())
    for field in ("focus_programs", "focus_hours"):  # a build from before the focus stream existed
        summary["config"].pop(field)
    summary["config"]["output"] = str(tmp_path)
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    assert build(tiny_config(tmp_path))["hours"] == summary["hours"]
    with pytest.raises(ValueError, match="focus_hours"):
        build(tiny_config(tmp_path, focus_programs=(40,), focus_hours=1.0))


def test_a_damaged_shard_is_a_clear_error_naming_it(tiny, tmp_path):
    damaged = tmp_path / "data"
    shutil.copytree(tiny, damaged)
    shard = shard_paths(damaged, "train")[0]
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 3])  # a copy cut short
    with pytest.raises(ShardError, match=f"{shard.name} cannot be read"):
        list(ShardDataset(damaged, "train"))
    shard.unlink()
    with pytest.raises(ShardError, match=f"{shard.name} cannot be read"):
        list(read_shard(shard))

"""lmdm.training.checkpoint: a run killed at any point of a checkpoint save resumes from a whole
checkpoint, the new one or the one before, never from nothing and never from half of one."""

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import SafetensorError

from lmdm.training import checkpoint as checkpoint_module
from lmdm.training.checkpoint import CheckpointWriteError, load_checkpoint, recover_checkpoint, save_checkpoint


class Killed(Exception):
    """Stands for the process dying at that instant."""


def model_at(step: int) -> torch.nn.Linear:
    torch.manual_seed(step)
    return torch.nn.Linear(4, 3)


def trained(step: int) -> tuple[torch.nn.Linear, torch.optim.Optimizer]:
    """The model of `step` after one optimizer step: weights and optimizer state both differ per step."""
    model = model_at(step)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.ones(2, 4)).sum().backward()
    optimizer.step()
    return model, optimizer


def save(folder: Path, step: int) -> None:
    model, optimizer = trained(step)
    save_checkpoint(folder, {"model": model}, {"optimizer": optimizer}, {"step": step})


def count_file_operations(monkeypatch, folder: Path) -> int:
    """How many file-system steps one save takes (the kill points to try)."""
    calls = []
    for name in ("rename", "mkdir", "write_text"):
        original = getattr(Path, name)
        monkeypatch.setattr(Path, name, lambda self, *a, _o=original, **k: (calls.append(1), _o(self, *a, **k))[1])
    original_save = checkpoint_module.save_file
    monkeypatch.setattr(checkpoint_module, "save_file", lambda *a, **k: (calls.append(1), original_save(*a, **k))[1])
    save(folder, 2)
    monkeypatch.undo()
    return len(calls)


def test_a_save_killed_at_any_point_leaves_a_whole_checkpoint(tmp_path, monkeypatch):
    points = count_file_operations(monkeypatch, tmp_path / "probe" / "checkpoint")
    assert points >= 6
    for kill_at in range(points + 1):
        run = tmp_path / f"run{kill_at}"
        folder = run / "checkpoint"
        save(folder, 1)
        calls = []

        def maybe_die(original):
            def wrapped(*args, **kwargs):
                calls.append(1)
                if len(calls) == kill_at + 1:
                    raise Killed()
                return original(*args, **kwargs)
            return wrapped

        for name in ("rename", "mkdir", "write_text"):
            monkeypatch.setattr(Path, name, maybe_die(getattr(Path, name)))
        monkeypatch.setattr(checkpoint_module, "save_file", maybe_die(checkpoint_module.save_file))
        try:
            save(folder, 2)
        except Killed:
            pass
        monkeypatch.undo()

        assert recover_checkpoint(folder), f"killed at file step {kill_at}: no checkpoint to resume from"
        model = torch.nn.Linear(4, 3)
        optimizer = torch.optim.AdamW(model.parameters())
        meta = load_checkpoint(folder, {"model": model}, {"optimizer": optimizer})
        assert meta["step"] in (1, 2)
        expected, expected_optimizer = trained(meta["step"])  # weights and optimizer state of that one save
        assert torch.equal(model.weight, expected.weight), f"killed at file step {kill_at}: weights of no whole save"
        moments = [o.state_dict()["state"][0]["exp_avg"] for o in (optimizer, expected_optimizer)]
        assert torch.equal(*moments), f"killed at file step {kill_at}: optimizer state of another save"
    assert json.loads((tmp_path / f"run{points}" / "checkpoint" / "checkpoint.json").read_text())["step"] == 2


def test_recover_puts_back_the_checkpoint_moved_aside(tmp_path):
    folder = tmp_path / "checkpoint"
    save(folder, 1)
    os.rename(folder, tmp_path / "checkpoint.previous")  # killed between the save's two renames
    (tmp_path / "checkpoint.staging").mkdir()
    assert recover_checkpoint(folder)
    assert json.loads((folder / "checkpoint.json").read_text())["step"] == 1
    shutil.rmtree(folder)
    assert not recover_checkpoint(folder)  # nothing saved yet: a fresh run


def test_an_unreadable_checkpoint_is_an_error_not_a_fresh_start(tmp_path):
    folder = tmp_path / "checkpoint"
    save(folder, 1)
    (folder / "model.safetensors").write_bytes(b"\x00" * 5)
    with pytest.raises(Exception):
        load_checkpoint(folder, {"model": torch.nn.Linear(4, 3)}, {})


def test_a_full_disk_is_a_clear_error_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    folder = tmp_path / "checkpoint"
    save(folder, 1)

    def full_disk(tensors, path, *args, **kwargs):
        Path(path).write_bytes(b"\x00" * 3)  # what a writer leaves when the disk fills mid-file
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(checkpoint_module, "save_file", full_disk)
    with pytest.raises(CheckpointWriteError, match="No space left on device.*previous checkpoint is intact"):
        save(folder, 2)
    monkeypatch.undo()
    assert not (tmp_path / "checkpoint.staging").exists()
    assert recover_checkpoint(folder)
    assert load_checkpoint(folder, {"model": torch.nn.Linear(4, 3)}, {})["step"] == 1

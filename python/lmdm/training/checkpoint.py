"""Resumable training checkpoints as safetensors + JSON: weights, optimizer state, RNG, progress. No pickles.

A checkpoint is a folder that appears by rename, so a run killed mid-save leaves the previous one
intact: either still in place, or (killed between the two renames) as `<folder>.previous`, which
recover_checkpoint puts back before a run resumes. Optimizer state is flattened to
`state.<param index>.<name>` tensors; its non-tensor parts (hyper-parameters, step counters that are
plain numbers) go to JSON.
"""

import json
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

META = "checkpoint.json"


class CheckpointWriteError(OSError):
    """A checkpoint that could not be written (a full disk, a vanished folder); the previous one stands."""


def save_checkpoint(folder: Path, models: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                    meta: dict) -> None:
    staging = folder.with_name(folder.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        layouts = {}
        for name, model in models.items():
            save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()},
                      staging / f"{name}.safetensors")
        for name, optimizer in optimizers.items():
            tensors, layouts[name] = _flatten_optimizer(optimizer.state_dict())
            save_file(tensors, staging / f"{name}.safetensors")
        save_file({"torch": torch.get_rng_state()}, staging / "rng.safetensors")
        (staging / META).write_text(json.dumps(meta | {"optimizer_layouts": layouts}, indent=1))
    except (OSError, SafetensorError) as error:  # a full disk, above all: say so, leave no half-written folder
        shutil.rmtree(staging, ignore_errors=True)
        raise CheckpointWriteError(f"could not write the checkpoint {folder} ({error}); the previous checkpoint "
                                   "is intact: free space and resume with the same command") from error
    previous = folder.with_name(folder.name + ".previous")
    shutil.rmtree(previous, ignore_errors=True)
    if folder.exists():
        folder.rename(previous)
    staging.rename(folder)
    shutil.rmtree(previous, ignore_errors=True)


def recover_checkpoint(folder: Path) -> bool:
    """True when `folder` holds a checkpoint to resume from, after putting back the previous one if a
    save was killed between moving it aside and moving the new one in."""
    previous = folder.with_name(folder.name + ".previous")
    if not folder.exists() and (previous / META).exists():
        previous.rename(folder)
    return (folder / META).exists()


def load_checkpoint(folder: Path, models: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                    device: torch.device | str = "cpu") -> dict:
    """Restore everything save_checkpoint wrote; returns the meta dict."""
    meta = json.loads((folder / META).read_text())
    for name, model in models.items():
        model.load_state_dict(load_file(folder / f"{name}.safetensors", device=str(device)))
    for name, optimizer in optimizers.items():
        tensors = load_file(folder / f"{name}.safetensors", device=str(device))
        optimizer.load_state_dict(_unflatten_optimizer(tensors, meta["optimizer_layouts"][name]))
    torch.set_rng_state(load_file(folder / "rng.safetensors")["torch"])
    return meta


def _flatten_optimizer(state_dict: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, plain = {}, {}
    for index, values in state_dict["state"].items():
        for key, value in values.items():
            if torch.is_tensor(value):
                tensors[f"state.{index}.{key}"] = value.detach().contiguous().cpu()
            else:
                plain[f"{index}.{key}"] = value
    return tensors, {"param_groups": state_dict["param_groups"], "plain": plain}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], layout: dict) -> dict:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        _, index, key = name.split(".", 2)
        state.setdefault(int(index), {})[key] = value
    for name, value in layout["plain"].items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": layout["param_groups"]}

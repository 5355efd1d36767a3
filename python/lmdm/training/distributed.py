"""What every training entry point shares: process group setup, warm-up, replica checks, logs and curves."""

import json
import os
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def distributed(device: str) -> tuple[int, int]:
    """(rank, world size); initialises the process group (NCCL on CUDA, gloo on CPU) under torchrun."""
    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    if device.startswith("cuda"):
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return dist.get_rank(), dist.get_world_size()


def warmup_learning_rate(peak: float, warmup_steps: int, step: int) -> float:
    return peak * min(1.0, (step + 1) / max(1, warmup_steps))


def average_gradients(model: torch.nn.Module, world: int) -> None:
    """All-reduce the gradients to their mean over ranks: DDP by hand, for trainers whose networks are
    called through several methods per step (rollouts), where DDP's forward hooks do not see every use."""
    if world == 1:
        return
    for parameter in model.parameters():
        if parameter.grad is not None:
            dist.all_reduce(parameter.grad)
            parameter.grad /= world


def replicas_in_sync(model: torch.nn.Module, world: int) -> bool:
    """Whether every DDP rank ends with bit-identical weights (a cheap check worth doing at every exit)."""
    if world == 1:
        return True
    checksums = torch.stack([p.detach().double().sum() for p in model.parameters()])
    gathered = [torch.zeros_like(checksums) for _ in range(world)]
    dist.all_gather(gathered, checksums)
    return all(torch.equal(g, gathered[0]) for g in gathered)


def require_same_model(meta: dict, model_config: dict) -> None:
    saved, current = meta["model_config"], json.loads(json.dumps(model_config))
    if saved != current:
        raise ValueError(f"the run's checkpoint was made with a different model config: {saved} vs {current}")


class MetricsLog:
    """metrics.jsonl (appended, survives resumes) and a curves PNG of chosen keys, on rank 0 only.

    `resume_step`: the step the run resumes from. A run killed after its last checkpoint logged steps
    it will now train again; those lines are dropped, so the log holds each step once, in order."""

    def __init__(self, run: Path, rank: int, keys: tuple[str, ...], plot_name: str = "loss.png",
                 resume_step: int = 0):
        self.path, self.rank, self.keys, self.plot_name = run / "metrics.jsonl", rank, keys, plot_name
        if rank == 0:
            run.mkdir(parents=True, exist_ok=True)
            if self.path.exists():
                kept = [line for line in self.path.read_text().splitlines()
                        if line.strip() and json.loads(line)["step"] <= resume_step]
                self.path.write_text("".join(line + "\n" for line in kept))

    def write(self, step: int, seconds: float, values: dict) -> None:
        if self.rank == 0:
            with open(self.path, "a") as out:
                out.write(json.dumps({"step": step, "seconds": round(seconds, 1)} | values) + "\n")

    def plot(self) -> None:
        if self.rank != 0 or not self.path.exists():
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = [json.loads(line) for line in self.path.read_text().splitlines()]
        keys = [k for k in self.keys if any(k in r for r in rows)]
        if not keys:
            return
        figure, axes = plt.subplots(1, len(keys), figsize=(4.3 * len(keys), 3.5), squeeze=False)
        for axis, key in zip(axes[0], keys):
            logged = [r for r in rows if key in r]
            steps = np.array([r["step"] for r in logged])
            values = np.array([r[key] for r in logged])
            axis.plot(steps, values, alpha=0.3, color="#4a7ab0")
            window = max(1, len(values) // 50)
            axis.plot(steps[window - 1:], np.convolve(values, np.ones(window) / window, "valid"), color="#17324d")
            axis.set_title(key)
            axis.set_xlabel("step")
        figure.tight_layout()
        figure.savefig(self.path.with_name(self.plot_name), dpi=100)
        plt.close(figure)


def report_and_finish(result: dict) -> None:
    """Print a run's summary once (rank 0) and leave the process group, so every rank exits cleanly."""
    if not dist.is_initialized() or dist.get_rank() == 0:
        print(json.dumps(result))
    if dist.is_initialized():
        # Every rank reaches the teardown before any leaves: a rank that destroys its gloo group while
        # the other's connection is already gone can abort in gloo's thread ("terminate called
        # without an active exception", seen once in CI after a finished 2-rank run).
        dist.barrier()
        dist.destroy_process_group()

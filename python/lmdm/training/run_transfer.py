"""python -m lmdm.training.run_transfer: a training run's EMA weights and logs through a size-limited channel.

    python -m lmdm.training.run_transfer send    --run-dir /root/runs/a --out $OUT --prefix a   # on the GPU machine
    python -m lmdm.training.run_transfer receive --parts <files a-*> --run-dir ~/lmdm-runs/gpu-a     # back here

A lent GPU machine returns at most 8 files of 16 MiB, while a run's checkpoint is 190 MB (model,
EMA, optimizer in float32). What a continuation needs is the EMA: `send` writes it as float16
safetensors parts of at most `--part-mb` MB each (by whole tensors) plus one archive of the run's
checkpoint.json, metrics.jsonl, loss.png and train.log (where a script wrote one); `receive` rebuilds a run folder whose checkpoint holds
that EMA (widened to float32) and the same logs, which `lmdm.dit.release --run-dir` packages and
`lmdm.dit.train --init-from` starts from. The optimizer state stays behind (a continuation warms up
again), so the folder is marked as received and train_dit cannot resume it as if it were whole.
"""

import argparse
import json
import tarfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

EMA = "ema.safetensors"
LOGS = ("checkpoint/checkpoint.json", "metrics.jsonl", "loss.png", "train.log")


def send(run_dir: Path, out: Path, prefix: str, part_mb: float = 15.0) -> list[Path]:
    ema = load_file(run_dir / "checkpoint" / EMA)
    out.mkdir(parents=True, exist_ok=True)
    parts, current, size = [], {}, 0
    for name in sorted(ema):
        tensor = ema[name].to(torch.float16) if ema[name].is_floating_point() else ema[name]
        bytes_ = tensor.numel() * tensor.element_size()
        if current and size + bytes_ > part_mb * 1e6:
            parts.append(current)
            current, size = {}, 0
        current[name], size = tensor.contiguous(), size + bytes_
    parts.append(current)
    written = []
    for index, tensors in enumerate(parts):
        path = out / f"{prefix}-ema-{index}-of-{len(parts)}.safetensors"
        save_file(tensors, path)
        written.append(path)
    archive = out / f"{prefix}-logs.tar"
    with tarfile.open(archive, "w") as tar:
        for name in LOGS:
            if (run_dir / name).exists():
                tar.add(run_dir / name, arcname=name)
    return written + [archive]


def receive(parts: list[Path], run_dir: Path) -> Path:
    weights = sorted(p for p in parts if p.name.endswith(".safetensors"))
    counts = {p.name.rsplit("-of-", 1)[1].split(".")[0] for p in weights}
    if len(counts) != 1 or len(weights) != int(counts.pop()):
        raise ValueError(f"{len(weights)} weight parts given, not the whole set: {[p.name for p in weights]}")
    ema = {}
    for path in weights:
        ema |= {k: v.float() if v.is_floating_point() else v for k, v in load_file(path).items()}
    (run_dir / "checkpoint").mkdir(parents=True, exist_ok=True)
    for archive in (p for p in parts if p.name.endswith(".tar")):
        with tarfile.open(archive) as tar:
            tar.extractall(run_dir, filter="data")
    meta_path = run_dir / "checkpoint" / "checkpoint.json"
    meta = json.loads(meta_path.read_text())
    meta["received_without_optimizer"] = True  # what train_dit's resume refuses
    meta_path.write_text(json.dumps(meta, indent=1))
    save_file(ema, run_dir / "checkpoint" / EMA)
    return run_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmdm.training.run_transfer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    sending = commands.add_parser("send", help="a run's EMA (float16 parts) and logs -> --out")
    sending.add_argument("--run-dir", type=Path, required=True)
    sending.add_argument("--out", type=Path, required=True)
    sending.add_argument("--prefix", required=True)
    sending.add_argument("--part-mb", type=float, default=15.0)
    receiving = commands.add_parser("receive", help="the parts -> a run folder holding that EMA and the logs")
    receiving.add_argument("--parts", type=Path, nargs="+", required=True)
    receiving.add_argument("--run-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "send":
        for path in send(args.run_dir, args.out, args.prefix, args.part_mb):
            print(path)
    else:
        print(receive(args.parts, args.run_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""python -m lmdm.dit.keep: a training run's generator as a checkpoint folder a fresh machine can start from.

    python -m lmdm.dit.keep --run-dir ~/lmdm-runs/arc6 --out checkpoints/lmdm-arc6

Run folders stay on the training machine (`~/lmdm-runs/`), which the next session may not get. This
keeps what a continuation needs in git-sized form: the EMA weights in float16 (`load_dit` widens them
again), the DiT config, the data statistics, the run's configuration and progress (training.json),
its metrics and loss curves. The optimizers and any discriminator are not kept: a run started from
here (`--init-from`) warms them up again. The card (CARD.md) is written by hand: what was measured.
"""

import argparse
import json
import shutil
from pathlib import Path

from .files import load_dit, save_dit, stats_path_of


def keep(run_dir: Path, out: Path) -> dict:
    meta = json.loads((run_dir / "checkpoint" / "checkpoint.json").read_text())
    model, _ = load_dit(run_dir)
    stats = run_dir / "stats.json" if (run_dir / "stats.json").exists() else stats_path_of(run_dir)
    save_dit(model, out, stats)
    training = {key: meta[key] for key in ("trainer", "step", "elapsed_seconds", "train_config") if key in meta}
    (out / "training.json").write_text(json.dumps(training, indent=1) + "\n")
    for name, kept in (("metrics.jsonl", "training-metrics.jsonl"), ("loss.png", "training-loss.png")):
        if (run_dir / name).exists():
            shutil.copy(run_dir / name, out / kept)
    return {"out": str(out), "step": meta.get("step"), "files": sorted(p.name for p in out.iterdir())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmdm.dit.keep", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    print(json.dumps(keep(args.run_dir.expanduser(), args.out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Prints the markdown table that compares the offline DiT and the streaming variants (docs/lmdm.md),
from their evaluation.json and training.json files (lmdm.dit.release / lmdm.evaluation.evaluate wrote them).

    python scripts/compare_models.py models/dit-offline models/lmdm-encdec models/lmdm-blockcausal \
        runs/dit-outpaint/evaluation
"""

import json
import sys
from pathlib import Path


def row(folder: Path) -> str:
    scores = json.loads((folder / "evaluation.json").read_text())
    training_path = folder / "training.json"
    training = json.loads(training_path.read_text()) if training_path.exists() else {}
    s = scores["sketch_adherence"]
    reached = training.get("reached_offline_valid_hours")
    return (f"| {scores['variant']} | `{folder}` | {training.get('steps', '-')} | "
            f"{training.get('wall_hours', float('nan')):.2f} | "
            f"{'-' if reached is None else f'{reached:.2f}'} | {s['loudness_r']:.2f} | {s['brightness_r']:.2f} | "
            f"{s['pitch_within_semitone']:.2f} | {scores['text_adherence_top1']:.2f} | "
            f"{scores['frechet_distance_classifier']:.1f} | {scores['frechet_distance_aisfx_nonstandard_fad']:.1f} |")


def main() -> int:
    print("| variant | folder | steps | wall h | h to offline valid loss | loudness r | brightness r | "
          "pitch within 1 st | text top-1 | FD classifier | FD aiSFX (non-standard FAD) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for folder in sys.argv[1:]:
        print(row(Path(folder)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""python -m lmdm.data {build,byo,clips}: build the training data (see docs/data.md)."""

import argparse
import logging
import sys
from pathlib import Path

from ..cli import add_config_arguments, config_from_args
from .config import DataConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmdm.data", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="render the music21 corpus into shards + manifest + card")
    build.add_argument("--keep-work", action="store_true", help="keep the per-piece work folder after packing")
    byo = commands.add_parser("byo", help="turn a folder of your own audio files into a data set")
    byo.add_argument("--input", type=Path, required=True, help="folder of WAV/FLAC/OGG/MP3 files (searched recursively)")
    byo.add_argument("--captions", type=Path, help="CSV of file,caption (file relative to --input)")
    clips = commands.add_parser("clips", help="render guitar clips from test-split pieces")
    clips.add_argument("--to", type=Path, default=Path("assets/clips"), help="clip folder (default: assets/clips)")
    clips.add_argument("--monophonic", type=int, default=3)
    clips.add_argument("--chordal", type=int, default=2)
    for command in (build, byo, clips):
        add_config_arguments(command, DataConfig)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    config = config_from_args(args, DataConfig)
    if args.command == "build":
        from .build import build as run_build

        summary = run_build(config, keep_work=args.keep_work)
        _report(summary, config.output)
    elif args.command == "byo":
        from .byo import build_from_folder

        _report(build_from_folder(args.input, args.captions, config), config.output)
    else:
        from .clips import make_clips

        made = make_clips(config, args.to, args.monophonic, args.chordal)
        print(f"{len(made)} clips in {args.to}: " + ", ".join(c["file"] for c in made))
    return 0


def _report(summary: dict, output: Path) -> None:
    hours = ", ".join(f"{split} {h:.2f} h" for split, h in summary["hours"].items())
    skipped = summary["pieces"]["skipped"]
    print(f"{output}: {hours}; {skipped} skipped; card: {output / 'CARD.md'}")


if __name__ == "__main__":
    sys.exit(main())

"""The data card (CARD.md + an instrument histogram) written beside every build, from its summary."""

import random
from pathlib import Path

LICENCES = """\
- **Scores**: the `music21` corpus (pip package `music21`, BSD-3 software). Per its `corpus/license.txt`,
  the works are out of copyright in the US or licensed for use, and some encodings restrict commercial
  use; the Essen folksong encodings are distributed with permission for **non-commercial** use. Treat
  models trained on this data as non-commercial unless you rebuild without `essenFolksong`.
- **Sounds**: FluidR3_GM (Debian `fluid-soundfont-gm`, MIT licence) and TimGM6mb (Debian
  `timgm6mb-soundfont`, GPL-2), rendered with FluidSynth (LGPL-2.1) through `pyfluidsynth`.
- Nothing is downloaded: both come from the package registries."""


def write_card(summary: dict, examples: list[dict], output: Path) -> None:
    _plot_instruments(summary["instrument_stem_hours"], output / "instruments.png")
    (output / "CARD.md").write_text(card_text(summary, examples))


def card_text(summary: dict, examples: list[dict]) -> str:
    config, hours, throughput = summary["config"], summary["hours"], summary["throughput"]
    lines = [
        "# Data card: rendered music21 corpus",
        "",
        f"Built by `python -m lmdm.data build` with seed {config['seed']}, "
        f"{config['train_hours']} train hours asked, {config['sample_rate']} Hz mono, "
        f"into `{config['output']}`. Same config, same bytes.",
        "",
        "## Sources and licences",
        LICENCES,
        "",
        "## Size",
        "| split | pieces | examples | hours |",
        "|---|---|---|---|",
        *(f"| {s} | {summary['pieces']['by_split'][s]} | {summary['examples'][s]} | {hours[s]:.2f} |" for s in hours),
        "",
        f"Stems: {summary['stem_hours']:.2f} hours in all (one per part, sample-aligned with the mix). "
        f"Shards: {sum(len(v) for v in summary['shards'].values())} tar files.",
        "",
        _table("Texture", "kind", summary["kinds_hours"]),
        _table("Collection", "collection", summary["collections_hours"]),
        _table("Soundfont", "soundfont", summary["soundfonts_hours"]),
        _table("Instrument family (stem hours)", "family", summary["family_stem_hours"]),
        "## Instruments",
        "![stem hours per instrument](instruments.png)",
        "",
        "## Caption examples",
        *(f"- `{e['key']}`: {c}" for e, c in _caption_examples(examples)),
        "",
        "## Skipped pieces",
        f"{summary['pieces']['skipped']} of {summary['pieces']['skipped'] + summary['pieces']['used']} "
        "pieces tried were skipped (logged in build.log):",
        *(f"- {reason}: {count}" for reason, count in summary["skipped_by_reason"].items()),
        "",
        "## Throughput (measured during this build)",
        f"- build wall time: {throughput['build_wall_seconds'] / 60:.1f} min on {config['workers'] or 'all'} "
        "worker processes",
        f"- whole build (parse, render, encode, pack): {throughput['mix_audio_per_wall_second']:.0f}x real time "
        "(seconds of mix audio per wall second)",
        f"- stem audio per render CPU second: {throughput['stem_audio_per_render_cpu_second']:.0f} s",
        "",
    ]
    return "\n".join(lines)


def _table(title: str, column: str, hours: dict[str, float]) -> str:
    rows = "\n".join(f"| {name} | {h:.2f} |" for name, h in hours.items())
    return f"## {title}\n| {column} | hours |\n|---|---|\n{rows}\n"


def _caption_examples(examples: list[dict], count: int = 12) -> list[tuple[dict, str]]:
    rng = random.Random(0)
    chosen = rng.sample(examples, min(count, len(examples)))
    return [(e, rng.choice(e["captions"])) for e in chosen]


def _plot_instruments(stem_hours: dict[str, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(stem_hours)[::-1]
    figure, axes = plt.subplots(figsize=(7, 0.22 * len(names) + 1))
    axes.barh(names, [stem_hours[n] for n in names], color="#4a7ab0")
    axes.set_xlabel("stem hours")
    axes.set_title("Instruments in the build (hours of stems)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)

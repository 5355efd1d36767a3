"""Counts that describe a finished build: hours per split, skips by reason, instruments, throughput."""

from collections import Counter

from .corpus import SPLITS


def summarise(records: list[dict], examples: list[dict], shards: dict[str, list[str]], config: dict,
              wall_seconds: float) -> dict:
    ok = [r for r in records if r["status"] == "ok"]
    skipped = [r for r in records if r["status"] == "skipped"]
    voice_seconds = sum(e["seconds"] * len(e["parts"]) for e in examples)
    cpu_seconds = sum(r["render_cpu_seconds"] for r in records)
    return {
        "config": config,
        "pieces": {"used": len(ok), "skipped": len(skipped), "by_split": _count(ok, "split")},
        "skipped_by_reason": dict(Counter(_reason_class(r["reason"]) for r in skipped).most_common()),
        "skipped_examples": [{"piece_id": r["piece_id"], "reason": r["reason"]} for r in skipped[:50]],
        "examples": _count(examples, "split"),
        "hours": {s: sum(e["seconds"] for e in examples if e["split"] == s) / 3600 for s in SPLITS},
        "stem_hours": voice_seconds / 3600,
        "kinds_hours": _hours_by(examples, lambda e: [e["kind"]]),
        "collections_hours": _hours_by(examples, lambda e: [e["collection"]]),
        "soundfonts_hours": _hours_by(examples, lambda e: [e["soundfont"]]),
        "instrument_stem_hours": _hours_by(examples, lambda e: [p["instrument"] for p in e["parts"]]),
        "family_stem_hours": _hours_by(examples, lambda e: [p["family"] for p in e["parts"]]),
        "shards": shards,
        "throughput": {
            "build_wall_seconds": wall_seconds,
            "mix_audio_per_wall_second": sum(e["seconds"] for e in examples) / wall_seconds,
            "stem_audio_per_render_cpu_second": voice_seconds / cpu_seconds if cpu_seconds else None,
            "render_cpu_seconds": cpu_seconds,
        },
    }


def _count(items: list[dict], field: str) -> dict[str, int]:
    counts = Counter(item[field] for item in items)
    return {s: counts.get(s, 0) for s in SPLITS}


def _hours_by(examples: list[dict], labels) -> dict[str, float]:
    hours: Counter = Counter()
    for example in examples:
        for label in labels(example):
            hours[label] += example["seconds"] / 3600
    return {k: round(v, 4) for k, v in hours.most_common()}


def _reason_class(reason: str) -> str:
    """The reason without its specifics (which exception, which program), for counting."""
    for prefix in ("unparsable score", "unexpected", "silent render", "too short", "part range", "non-finite",
                   "unreadable audio", "silent file"):
        if reason.startswith(prefix):
            return prefix
    return reason

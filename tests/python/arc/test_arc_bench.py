"""bench/arc_bench.py's reuse of an earlier benchmark's base runs: taken only when they measured the same
package over the same streams and seeds, copied with their plots."""

import json
from pathlib import Path

import pytest
from bench_scripts import load_bench_script


def load_bench():
    return load_bench_script("arc_bench")


def earlier_run(folder: Path, model: str, seeds: list[int]) -> Path:
    folder.mkdir(parents=True)
    path = folder / "adherence_base_8.json"
    streams = ["monophonic", "monophonic-loop"]
    path.write_text(json.dumps({"config": {"model": model, "seeds": seeds, "streams": streams},
                                "aggregates": {"overall": {"loudness_r": 0.9}}}))
    (folder / "adherence_base_8.png").write_bytes(b"plot")
    (folder / "adherence_spectrograms_base_8.png").write_bytes(b"spectrograms")
    return path


def test_a_matching_run_is_copied_with_its_plots(tmp_path):
    bench = load_bench()
    path = earlier_run(tmp_path / "earlier" / "arc", "models/lmdm-live", [0])
    config = bench.ArcBenchConfig(results=tmp_path / "now")
    result = bench.reused_run(path, Path("models/lmdm-live"), config)
    assert result["aggregates"]["overall"]["loudness_r"] == 0.9
    copied = sorted(p.name for p in (tmp_path / "now" / "arc").iterdir())
    assert copied == ["adherence_base_8.json", "adherence_base_8.png", "adherence_spectrograms_base_8.png"]


@pytest.mark.parametrize("model, seeds", [("models/other", [0]), ("models/lmdm-live", [0, 1])])
def test_a_run_of_another_package_or_seeds_is_refused(tmp_path, model, seeds):
    bench = load_bench()
    path = earlier_run(tmp_path / "earlier" / "arc", model, seeds)
    with pytest.raises(SystemExit, match="--reuse"):
        bench.reused_run(path, Path("models/lmdm-live"), bench.ArcBenchConfig(results=tmp_path / "now"))
    assert not (tmp_path / "now" / "arc" / "adherence_base_8.json").exists()


def test_the_instrument_interval_counts_every_played_crop():
    bench = load_bench()
    played = [{"instrument": {"crops": 22, "top1": 0.5}}, {"instrument": {"crops": 22, "top1": 1.0}}]
    judged = bench.instrument_interval(played)
    assert judged["instrument_crops"] == 44
    low, high = judged["instrument_top1_interval95"]
    assert low < 33 / 44 < high and high - low < 0.3  # 33 of 44 right: about 0.61 to 0.85
    assert bench.instrument_interval([{"instrument": {"crops": 0, "top1": 0.0}}])["instrument_top1_interval95"] is None

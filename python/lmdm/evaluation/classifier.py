"""python -m lmdm.evaluation.classifier: an instrument / ensemble classifier on audio, the judge of generated music.

    python -m lmdm.evaluation.classifier --run-dir runs/classifier --max-minutes 10     # train, then report test accuracy

It hears audio (log-mel, 3-second crops at the model rate), not latents, so it judges the VAE and the
DiT from outside. Heads: instruments (multi-label over the data set's palette), families (multi-label)
and texture (solo vs ensemble). Its pooled 128-d embedding is the second embedding of the Fréchet
distance (lmdm.evaluation.frechet), and its instrument head measures text adherence (asked for a flute, is it
one?). Trained on the train split's mixes, accuracy measured on the test split (pieces never seen).
"""

import argparse
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import librosa
import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from ..cli import add_config_arguments, config_from_args
from ..data.crops import build_cache
from ..data.instruments import PALETTE
from ..training.loop import Schedule, run_loop

INSTRUMENTS = tuple(sorted(i.name for i in PALETTE))
FAMILIES = tuple(sorted({i.family for i in PALETTE}))
SAMPLE_RATE, HOP, MELS = 22050, 512, 80


@dataclass(frozen=True)
class ClassifierConfig:
    data: Path = field(default_factory=lambda: Path("data/lmdm-v1"))
    run_dir: Path = field(default_factory=lambda: Path("runs/classifier"))
    crop_seconds: float = 3.0
    width: int = 128
    batch_size: int = 32
    learning_rate: float = 1e-3
    max_steps: int = 3000
    max_minutes: float = 0.0
    eval_split: str = "test"
    seed: int = 0
    threads: int = 2


class LogMel(nn.Module):
    """Audio (B, N) at 22.05 kHz -> log-mel (B, 80, frames), 43 frames/s."""

    def __init__(self):
        super().__init__()
        self.register_buffer("window", torch.hann_window(2048), persistent=False)
        filters = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=2048, n_mels=MELS)
        self.register_buffer("filters", torch.from_numpy(filters).float(), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        spectrum = torch.stft(audio, 2048, HOP, window=self.window, return_complex=True).abs() ** 2
        return torch.log(self.filters @ spectrum + 1e-6)


class InstrumentClassifier(nn.Module):
    def __init__(self, width: int = 128):
        super().__init__()
        self.features = LogMel()
        self.norm = nn.BatchNorm1d(MELS)
        layers, channels = [], MELS
        for dilation in (1, 2, 4, 8):
            layers += [nn.Conv1d(channels, width, 3, padding=dilation, dilation=dilation), nn.BatchNorm1d(width), nn.GELU()]
            channels = width
        self.body = nn.Sequential(*layers)
        self.embed = nn.Linear(2 * width, width)
        self.heads = nn.ModuleDict({"instruments": nn.Linear(width, len(INSTRUMENTS)),
                                    "families": nn.Linear(width, len(FAMILIES)), "solo": nn.Linear(width, 1)})

    def embedding(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, N) -> (B, width): mean and std over time of the conv features, projected."""
        x = self.body(self.norm(self.features(audio)))
        return self.embed(torch.cat([x.mean(-1), x.std(-1)], dim=-1))

    def forward(self, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        e = F.gelu(self.embedding(audio))
        return {name: head(e) for name, head in self.heads.items()}


# ----------------------------------------------------------------------------- data


class LabelledCrops:
    """Crops of a split's mixes with multi-hot instrument/family labels and a solo flag."""

    def __init__(self, data: Path, split: str, samples: int):
        audio_path = build_cache(data, split)
        self.audio = np.load(audio_path, mmap_mode="r")
        index = json.loads(audio_path.with_name(f"{split}_mix.json").read_text())
        facts = {}
        with open(data / "manifest.jsonl") as manifest:
            for line in manifest:
                row = json.loads(line)
                facts[row["key"]] = row["caption_facts"]
        spans = [(a, b, facts[k]) for a, b, k in zip(index["starts"], index["starts"][1:], index["keys"]) if b - a > samples]
        self.spans, self.samples = spans, samples
        self.labels = [self._labels(f) for _, _, f in spans]

    @staticmethod
    def _labels(facts: dict) -> dict[str, np.ndarray]:
        return {"instruments": np.isin(INSTRUMENTS, facts["instruments"]).astype(np.float32),
                "families": np.isin(FAMILIES, facts["families"]).astype(np.float32),
                "solo": np.array([facts["kind"] == "solo"], np.float32)}

    def crop(self, index: int, offset: float) -> np.ndarray:
        start, end, _ = self.spans[index]
        position = start + int(offset * (end - start - self.samples))
        return np.asarray(self.audio[position:position + self.samples], np.float32) / 32768.0

    def batch(self, size: int, rng: np.random.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        picks = rng.integers(len(self.spans), size=size)
        audio = np.stack([self.crop(i, rng.random()) for i in picks])
        gains = 10 ** (rng.uniform(-12, 6, size=(size, 1)) / 20)  # level must not decide the class
        labels = {k: torch.from_numpy(np.stack([self.labels[i][k] for i in picks])) for k in self.labels[0]}
        return torch.from_numpy((audio * gains).astype(np.float32)), labels


# ----------------------------------------------------------------------------- train and evaluate


def loss_of(outputs: dict, labels: dict) -> torch.Tensor:
    return sum(F.binary_cross_entropy_with_logits(outputs[k], labels[k]) for k in outputs)


@torch.no_grad()
def held_out_accuracy(model: InstrumentClassifier, crops: LabelledCrops) -> dict[str, float]:
    """Test accuracy on the middle crop of every example: instrument top-1 on solo examples (the
    text-adherence judge), family exact match, solo/ensemble."""
    model.eval()
    top1, family_exact, texture, solos = [], [], [], 0
    for index in range(len(crops.spans)):
        out = model(torch.from_numpy(crops.crop(index, 0.5))[None])
        labels = crops.labels[index]
        if labels["solo"][0] == 1:
            solos += 1
            top1.append(labels["instruments"][int(out["instruments"][0].argmax())] == 1)
        family_exact.append(np.array_equal((out["families"][0] > 0).numpy().astype(np.float32), labels["families"]))
        texture.append(float(out["solo"][0, 0] > 0) == labels["solo"][0])
    model.train()
    mean = lambda values: float(np.mean(values)) if values else None
    return {"solo_instrument_top1": mean(top1), "solo_examples": solos, "family_exact_match": mean(family_exact),
            "texture_accuracy": mean(texture), "examples": len(crops.spans), "instrument_classes": len(INSTRUMENTS)}


def train(config: ClassifierConfig) -> dict:
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    samples = int(config.crop_seconds * SAMPLE_RATE)
    train_crops = LabelledCrops(config.data, "train", samples)
    test_crops = LabelledCrops(config.data, config.eval_split, samples)
    model = InstrumentClassifier(config.width)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    one_cycle = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.learning_rate, total_steps=config.max_steps)
    rng = np.random.default_rng(config.seed)

    def train_step(step: int, elapsed: float) -> dict[str, float]:
        audio, labels = train_crops.batch(config.batch_size, rng)
        loss = loss_of(model(audio), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        one_cycle.step()
        return {"loss": loss.item()}

    end = run_loop("classifier", Schedule(config.max_steps, config.max_minutes), train_step)
    result = {"steps": end.step, "train_seconds": end.elapsed_seconds, "test": held_out_accuracy(model, test_crops),
              "config": json.loads(json.dumps(asdict(config), default=str))}
    save_classifier(model, config.run_dir, result)
    return result


def save_classifier(model: InstrumentClassifier, folder: Path, report: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, folder / "model.safetensors")
    (folder / "report.json").write_text(json.dumps(report | {"instruments": INSTRUMENTS, "families": FAMILIES},
                                                   indent=1) + "\n")


def load_classifier(folder: Path) -> InstrumentClassifier:
    report = json.loads((Path(folder) / "report.json").read_text())
    model = InstrumentClassifier(report["config"]["width"])
    model.load_state_dict(load_file(Path(folder) / "model.safetensors"))
    return model.eval()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmdm.evaluation.classifier", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, ClassifierConfig)
    result = train(config_from_args(parser.parse_args(argv), ClassifierConfig))
    print(json.dumps(result["test"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

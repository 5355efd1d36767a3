"""The prompt bank a package ships: each preset's embedding is the mean of the training captions that
describe it, not the embedding of its short name.

The plugin cannot run the sentence encoder, so its prompts are presets with stored embeddings. The model
learnt each instrument from captions such as "solo violin, lively Irish fiddle tune in D major"; the
embedding of the bare name "solo violin" sits far from all of them (cosine 0.69 to the mean of the train
split's solo-violin captions) and is about as close to other instruments (0.66 to "solo harpsichord"), so
a preset named violin asked the model for something between instruments. The mean over every caption
template, genre, key and tempo of the training captions for that instrument matches the train split's own
caption mean at cosine 0.95-0.98 (0.97 for violin), without reading the data set.
"""

import itertools
import random
from dataclasses import dataclass

import numpy as np

from ..data.captions import CaptionFacts, captions
from ..data.config import DataConfig
from ..data.instruments import PALETTE
from .text import embed_texts

# Six keys stand for all 24: the key is a few words of the caption (cosine 0.995 to the mean over all 24),
# and the bank is embedded at every export.
KEYS = ("C major", "G major", "D major", "A minor", "E minor", "B minor")
NOTE_SPACINGS = (0.5, 0.35, 0.25, 0.15)  # seconds between onsets: one per tempo word of the captions


@dataclass(frozen=True)
class Preset:
    name: str  # what the plugin's menu shows
    text: str  # a short description, kept in the bank for people and hosts
    instruments: tuple[str, ...]  # palette names, one per part
    kind: str = "solo"  # solo | ensemble, as in the training captions


PRESETS = (
    Preset("flute", "solo flute", ("flute",)),
    Preset("violin", "solo violin", ("violin",)),
    Preset("cello", "solo cello", ("cello",)),
    Preset("trumpet", "solo trumpet", ("trumpet",)),
    Preset("clarinet", "solo clarinet", ("clarinet",)),
    Preset("piano", "solo acoustic grand piano", ("acoustic grand piano",)),
    Preset("organ", "solo church organ", ("church organ",)),
    Preset("choir", "solo choir", ("choir",)),
    Preset("marimba", "solo marimba", ("marimba",)),
    Preset("nylon guitar", "solo nylon guitar", ("nylon guitar",)),
    Preset("strings", "a string ensemble playing", ("string ensemble",)),
    Preset("brass", "a brass ensemble playing", ("trumpet", "french horn", "trombone", "tuba"), "ensemble"),
)


def preset_captions(preset: Preset) -> list[str]:
    """Every caption the training would write for this preset, over the collections its kind comes from
    (solo lines only come from the melody collections), KEYS and every tempo word."""
    families = {instrument.name: instrument.family for instrument in PALETTE}
    unknown = [name for name in preset.instruments if name not in families]
    if unknown:
        raise ValueError(f"preset {preset.name!r}: {unknown} not in the instrument palette")
    data = DataConfig()
    collections = data.solo_collections if preset.kind == "solo" else \
        tuple(c for c in data.collections if c not in data.solo_collections)
    sentences = []
    for index, (collection, key, spacing) in enumerate(itertools.product(collections, KEYS, NOTE_SPACINGS)):
        facts = CaptionFacts(collection, preset.kind, preset.instruments,
                             tuple(families[name] for name in preset.instruments), key, 60.0 / spacing, spacing)
        sentences += captions(facts, random.Random(index))  # the genre wording, drawn as the data set draws it
    return sentences


def preset_embedding(preset: Preset) -> np.ndarray:
    """(384,) float32, unit norm: the mean of preset_captions' embeddings."""
    return _mean_embedding(preset_captions(preset))


def _mean_embedding(sentences: list[str]) -> np.ndarray:
    mean = embed_texts(sentences).mean(axis=0)
    return (mean / np.linalg.norm(mean)).astype(np.float32)


def prompt_bank(presets: tuple[Preset, ...] = PRESETS) -> list[dict]:
    """prompts.json's entries: name, text, how the embedding was made, the embedding."""
    bank = []
    for preset in presets:
        sentences = preset_captions(preset)
        bank.append({"name": preset.name, "text": preset.text,
                     "embedding_from": f"mean of {len(sentences)} training captions",
                     "embedding": [round(float(x), 7) for x in _mean_embedding(sentences)]})
    return bank

"""The prompt bank's embeddings: the training captions' mean, not the preset's short name."""

import random

import numpy as np
import pytest

import lmdm.conditioning.prompts as bank
from lmdm.conditioning.prompts import PRESETS, Preset, preset_captions, preset_embedding
from lmdm.conditioning.text import embed_texts
from lmdm.data.captions import CaptionFacts, captions
from lmdm.data.config import DataConfig


def test_a_solo_preset_is_described_as_the_training_describes_solo_lines():
    violin = next(p for p in PRESETS if p.name == "violin")
    sentences = preset_captions(violin)
    assert len(sentences) == len(DataConfig().solo_collections) * len(bank.KEYS) * len(bank.NOTE_SPACINGS) * 5
    assert all("violin" in s or "strings line" in s for s in sentences)


def test_the_caption_mean_is_nearer_an_unseen_training_caption_than_the_name_is():
    """A solo-violin caption in a key the bank never wrote: the preset's embedding is nearer to it than
    the embedding of "solo violin", and nearer than the harpsichord preset's (the model's confusion)."""
    facts = CaptionFacts("oneills1850", "solo", ("violin",), ("strings",), "F# major", 150.0, 0.2)
    held_out = embed_texts(captions(facts, random.Random(7))).mean(axis=0)
    violin, harpsichord = (preset_embedding(Preset(n, f"solo {n}", (n,))) for n in ("violin", "harpsichord"))
    name = embed_texts(["solo violin"])[0]
    assert violin @ held_out > name @ held_out + 0.1
    assert violin @ held_out > harpsichord @ held_out + 0.05
    assert np.linalg.norm(violin) == pytest.approx(1.0, abs=1e-5)


def test_the_bank_says_how_each_embedding_was_made():
    entries = bank.prompt_bank(PRESETS[:2])
    assert [entry["name"] for entry in entries] == ["flute", "violin"]
    assert all(len(entry["embedding"]) == 384 and "training captions" in entry["embedding_from"] for entry in entries)


def test_an_instrument_outside_the_palette_is_refused():
    with pytest.raises(ValueError, match="not in the instrument palette"):
        preset_captions(Preset("kazoo", "solo kazoo", ("kazoo",)))

"""The LMDM pieces: masks, the KV ring, and cached streaming equal to uncached masked passes."""

import pytest
import torch

from lmdm.dit.masks import window_mask
from lmdm.dit.model import DiT, tiny_config
from lmdm.streaming.kv_cache import KVCache
from lmdm.streaming.torch_streamer import StreamConfig, Streamer
from random_models import random_model

CONTROLS = 3


def test_encdec_mask_keeps_context_from_target():
    mask = window_mask("encdec", 3, 2)
    assert mask[:3, :3].all() and not mask[:3, 3:].any() and mask[3:].all()


def test_blockcausal_mask_is_block_causal_with_a_sliding_window():
    mask = window_mask("blockcausal", 6, 2, block_frames=2, window_frames=4)
    blocks = [[0, 1], [2, 3], [4, 5]]
    for i, rows in enumerate(blocks):
        for j, cols in enumerate(blocks):
            assert bool(mask[rows][:, cols].all()) == (0 <= i - j < 2), (i, j)  # itself and one block back
    assert mask[6:, 2:].all() and not mask[6:, :2].any()  # the target sees the last 4 context frames only


def test_blockcausal_blocks_are_counted_from_the_target():
    mask = window_mask("blockcausal", 5, 2, block_frames=2, window_frames=6)
    assert mask[0, 0] and not mask[0, 1]  # a partial block at the start stands alone
    assert mask[1, 2] and not mask[1, 3]


def test_kv_cache_ring_slides_without_moving_keys():
    cache = KVCache(layers=1, batch=1, heads=1, capacity=4, head_dim=2)
    frame = lambda value, n: [(torch.full((1, 1, n, 2), float(value)),) * 2]
    cache.prefill(frame(1, 2))
    cache.append(frame(2, 2))
    assert cache.valid().all()
    with pytest.raises(ValueError, match="slide first"):
        cache.append(frame(3, 2))
    cache.slide(2)
    assert cache.valid().tolist() == [False, False, True, True]
    cache.append(frame(3, 2))
    assert cache.keys[0, 0, 0, :, 0].tolist() == [3, 3, 2, 2]  # the oldest slots reused in place


@pytest.mark.parametrize("variant", ["encdec", "blockcausal"])
@pytest.mark.parametrize("guidance", [1.0, 2.5])
def test_cached_generation_equals_uncached_masked_passes(variant, guidance):
    model = random_model(variant)
    config = StreamConfig(context_frames=8, block_frames=4, steps=3, guidance=guidance, seed=1, solver="heun")
    context = torch.randn(8, 32, generator=torch.Generator().manual_seed(2))
    context_controls = torch.randn(8, CONTROLS, generator=torch.Generator().manual_seed(5))
    outputs = {}
    for cached in (True, False):
        streamer = Streamer(model, config, cached=cached)
        streamer.set_prompt(torch.randn(384, generator=torch.Generator().manual_seed(3)))
        streamer.start(context, context_controls, torch.ones(8, CONTROLS))
        controls = torch.Generator().manual_seed(4)
        outputs[cached] = torch.cat([streamer.next_block(torch.randn(4, CONTROLS, generator=controls),
                                                         torch.ones(4, CONTROLS)) for _ in range(6)])
    scale = outputs[False].abs().max()
    assert scale > 1.0  # the test is about real values, not zeros
    assert (outputs[True] - outputs[False]).abs().max() <= 1e-5 * scale


@pytest.mark.parametrize("guidance", [1.0, 2.5])
def test_a_stream_from_nothing_fills_its_cache_block_by_block(guidance):
    """Starting from no context, the cached stream equals the uncached masked passes over its history,
    and the first block depends on nothing before it (only the controls and the prompt)."""
    model = random_model("blockcausal")
    config = StreamConfig(context_frames=8, block_frames=4, steps=3, guidance=guidance, seed=1)
    nothing, no_controls = torch.zeros(0, 32), torch.zeros(0, CONTROLS)
    outputs = {}
    for cached in (True, False):
        streamer = Streamer(model, config, cached=cached)
        streamer.set_prompt(torch.randn(384, generator=torch.Generator().manual_seed(3)))
        streamer.start(nothing, no_controls, no_controls)
        assert streamer.cache.length == 0
        controls = torch.Generator().manual_seed(4)
        outputs[cached] = torch.cat([streamer.next_block(torch.randn(4, CONTROLS, generator=controls),
                                                         torch.ones(4, CONTROLS)) for _ in range(5)])
    scale = outputs[False].abs().max()
    assert scale > 1.0 and (outputs[True] - outputs[False]).abs().max() <= 1e-5 * scale
    with pytest.raises(ValueError, match="starts from 8 context frames"):
        Streamer(random_model("encdec"), config).start(nothing, no_controls, no_controls)


def test_guidance_extrapolates_from_a_row_without_prompt_and_controls():
    """guidance_drops_controls: the unconditional row sees no controls (present 0), so a block guided
    at g is v_uncond + g (v_cond - v_uncond) with v_uncond blind to the sketch; False keeps them there."""
    model = random_model("blockcausal")
    outputs = {}
    for drops in (True, False):
        config = StreamConfig(context_frames=8, block_frames=4, steps=1, guidance=3.0, seed=1,
                              guidance_drops_controls=drops)
        streamer = Streamer(model, config)
        values, present = torch.randn(4, CONTROLS, generator=torch.Generator().manual_seed(4)), torch.ones(4, CONTROLS)
        assert torch.equal(streamer._controls(values)[0], values)
        assert torch.equal(streamer._controls(values)[1], torch.zeros_like(values) if drops else values)
        streamer.set_prompt(torch.randn(384, generator=torch.Generator().manual_seed(3)))
        streamer.start(torch.zeros(0, 32), torch.zeros(0, CONTROLS), torch.zeros(0, CONTROLS))
        outputs[drops] = streamer.next_block(values, present)
    noise = torch.randn(4, 32, generator=torch.Generator().manual_seed(1))
    is_context = torch.zeros(4, dtype=torch.bool)
    with torch.no_grad():
        def velocity(controls, text):
            return model(noise[None], torch.ones(1), controls[0][None], controls[1][None], text, is_context=is_context)[0]
        prompt = torch.randn(384, generator=torch.Generator().manual_seed(3))[None]
        v_cond = velocity((values, present), prompt)
        v_blind = velocity((0 * values, 0 * present), None)
    expected = noise - (v_blind + 3.0 * (v_cond - v_blind))  # one Euler step from t = 1 to 0
    assert (outputs[True] - expected).abs().max() <= 1e-4 * expected.abs().max()
    assert (outputs[True] - outputs[False]).abs().max() > 1e-2


def test_blockcausal_cache_holds_the_window_and_the_reference_depends_on_old_history():
    model = random_model("blockcausal")
    config = StreamConfig(context_frames=8, block_frames=4, steps=2, seed=0)
    streamer = Streamer(model, config)
    streamer.start(torch.randn(8, 32), torch.zeros(8, CONTROLS), torch.zeros(8, CONTROLS))
    for _ in range(3):
        streamer.next_block(torch.zeros(4, CONTROLS), torch.zeros(4, CONTROLS))
    assert streamer.cache.length == 8 and streamer.position == 20


def test_streaming_is_reproducible_and_follows_the_seed():
    model = random_model("encdec")
    def run(seed: int) -> torch.Tensor:
        streamer = Streamer(model, StreamConfig(context_frames=8, block_frames=4, steps=2, seed=seed))
        streamer.start(torch.zeros(8, 32), torch.zeros(8, CONTROLS), torch.zeros(8, CONTROLS))
        return streamer.next_block(torch.zeros(4, CONTROLS), torch.zeros(4, CONTROLS))
    assert torch.equal(run(0), run(0)) and not torch.equal(run(0), run(1))


def test_prompt_change_takes_effect_at_the_next_block():
    model = random_model("blockcausal")
    config = StreamConfig(context_frames=8, block_frames=4, steps=2, seed=0)
    blocks = {}
    for change in (False, True):
        streamer = Streamer(model, config)
        streamer.set_prompt(torch.ones(384))
        streamer.start(torch.zeros(8, 32), torch.zeros(8, CONTROLS), torch.zeros(8, CONTROLS))
        first = streamer.next_block(torch.zeros(4, CONTROLS), torch.zeros(4, CONTROLS))
        if change:
            streamer.set_prompt(-torch.ones(384))
        blocks[change] = (first, streamer.next_block(torch.zeros(4, CONTROLS), torch.zeros(4, CONTROLS)))
    assert torch.equal(blocks[False][0], blocks[True][0]) and not torch.allclose(blocks[False][1], blocks[True][1])


def test_offline_model_refuses_to_stream():
    with pytest.raises(ValueError, match="cannot stream"):
        Streamer(DiT(tiny_config()), StreamConfig())

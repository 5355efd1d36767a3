"""The base model as a teacher of the rollout: its guided denoising of each generated block (ADD's distillation term).

ARC-Forcing alone samples without classifier-free guidance, and in runs 1-3 the few-step model lost
what guidance gives the base: how closely it follows the player's loudness (above all in a stream's
first seconds) and the prompt's instrument. Adversarial Diffusion Distillation (Sauer et al. 2023)
pairs the adversarial loss with a distillation term: re-noise the student's sample, let the frozen
teacher denoise it with guidance, and pull the sample towards that. Here each rolled-out block is
re-noised to a time s drawn log-SNR-uniform (a moderate range: at high noise the teacher's one-call
prediction is a blurred mean, which would pull the timbre towards haze), and the teacher, reading
its own KV cache of the same context the generator saw (the real prefix with its visibility, then the
generated blocks), predicts the clean block with guidance, exactly as the streaming engine runs it:
the unconditional row has no prompt and no sketch controls (StreamConfig.guidance_drops_controls).
The targets carry no gradient; the generator's loss is their squared distance to its blocks.

Guidance on the prompt alone (text_guidance > 0) adds a third row, the sketch controls without the
prompt, and the target moves on by text_guidance x (conditional - that row): the two-condition CFG
of InstructPix2Pix (Brooks et al. 2023). It pushes only along what the prompt changes, aimed at the
instrument, which the ARC runs lost while the sketch adherence held.
"""

import torch

from ..dit.model import DiT
from ..dit.variants import Variant
from .losses import noise_times
from .rollout import append_block, encode_context, velocity


@torch.no_grad()
def guided_targets(teacher: DiT, prefix: torch.Tensor, visible: torch.Tensor, rollout: torch.Tensor,
                   values: torch.Tensor, present: torch.Tensor, text: torch.Tensor, block_frames: int,
                   context_frames: int, guidance: float, log_snr_range: tuple[float, float],
                   generator: torch.Generator, text_guidance: float = 0.0) -> torch.Tensor:
    """The teacher's guided clean prediction of every block of a rollout (N, chunks*B, D), each
    re-noised by itself to its own time, after a prefix (N, P, D) with visibility (N, P); values and
    present (N, P + chunks*B, 3), text (N, text_dim). Blockcausal teachers only (the cache is appended)."""
    if not Variant(teacher.config.variant).incremental:
        raise ValueError(f"the teacher must be block-causal, not {teacher.config.variant}")
    batch, prefix_frames, dim = prefix.shape
    device = prefix.device
    chunks = rollout.shape[1] // block_frames
    # rows: conditional, unconditional (no prompt, no controls), and with text guidance the controls alone
    rows = 3 if text_guidance else 2
    repeated = lambda x: torch.cat([x] * rows)
    with_controls = lambda x: torch.cat([x, torch.zeros_like(x)] + [x] * (rows - 2))
    prompt, no_prompt = teacher.text_tokens(text, batch), teacher.text_tokens(None, batch)
    text_kv = teacher.text_kv(torch.cat([prompt, no_prompt] + [no_prompt] * (rows - 2)))
    values2, present2 = with_controls(values), with_controls(present)
    cache = encode_context(teacher, repeated(prefix), values2[:, :prefix_frames], present2[:, :prefix_frames], text_kv,
                           repeated(visible), block_frames, context_frames)
    times = noise_times(chunks, log_snr_range, generator).tolist()
    targets = []
    for chunk in range(chunks):
        first = prefix_frames + chunk * block_frames
        block = rollout[:, chunk * block_frames:(chunk + 1) * block_frames]
        controls = values2[:, first:first + block_frames], present2[:, first:first + block_frames]
        s = times[chunk]
        noisy = (1 - s) * block + s * torch.randn(block.shape, generator=generator).to(device)
        conditional, unconditional, *promptless = velocity(teacher, cache, repeated(noisy), s, *controls, text_kv,
                                                           first, context_frames).chunk(rows)
        guided = unconditional + guidance * (conditional - unconditional)
        if promptless:
            guided = guided + text_guidance * (conditional - promptless[0])
        targets.append(noisy - s * guided)
        if chunk + 1 < chunks:
            cache = append_block(teacher, cache, repeated(block), *controls, text_kv, first, context_frames)
    return torch.cat(targets, 1)

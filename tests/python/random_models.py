"""Tiny DiTs with random weights everywhere, for tests that need every path of the network to matter."""

import torch

from lmdm.dit.model import DiT, tiny_config


def random_model(variant: str, seed: int = 0, **config) -> DiT:
    """adaLN-zero makes a fresh DiT the identity; random weights everywhere make attention matter."""
    torch.manual_seed(seed)
    model = DiT(tiny_config(variant=variant, **config))
    for parameter in model.parameters():
        torch.nn.init.normal_(parameter, std=0.2)
    return model.eval()

"""ARC-Forcing (paper §1, §4): adversarial relativistic-contrastive post-training on the model's own rollouts."""

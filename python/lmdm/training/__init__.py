"""What every trainer shares: the one training loop (`loop`: steps, progress, time budget, log and
checkpoint cadence), process groups and logs (`distributed`), resumable safetensors checkpoints and
moving a run's weights through a size-limited channel (`python -m lmdm.training.run_transfer`)."""

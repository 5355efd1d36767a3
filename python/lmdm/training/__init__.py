"""What every trainer shares: process groups and logs (`distributed`), resumable safetensors checkpoints and
moving a run's weights through a size-limited channel (`python -m lmdm.training.run_transfer`)."""

"""The DiT's training data: VAE latents, controls and caption embeddings of the corpus (`python -m
lmdm.latents.build`), where that cache lives and how its latents are normalised (`cache`), and the cache
packed small enough to travel to a GPU machine (`python -m lmdm.latents.pack`)."""

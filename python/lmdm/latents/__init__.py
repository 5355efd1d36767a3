"""The DiT's training data: VAE latents, controls and caption embeddings of the corpus (`python -m
lmdm.latents.build`), the controls of the same notes played on a guitar (`python -m
lmdm.latents.guitar_controls`), where that cache lives and how its latents are normalised (`cache`),
and the cache packed small enough to travel to a GPU machine (`python -m lmdm.latents.pack`)."""

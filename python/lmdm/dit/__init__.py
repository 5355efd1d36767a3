"""The diffusion transformer over VAE latents and its streaming LMDM variants: the network (`model`), the
variants' attention masks, rectified flow, training windows, training (`python -m lmdm.dit.train`), a
model on disk (`files`) and the shipped model folder with its card (`python -m lmdm.dit.release`)."""

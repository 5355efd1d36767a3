"""The audio VAE: the causal frame-rate model (`model`), its discriminator, training (`python -m
lmdm.vae.train`), evaluation against simple codecs (`python -m lmdm.vae.evaluate`) and the shipped
models/vae folder with its card (`python -m lmdm.vae.release`)."""

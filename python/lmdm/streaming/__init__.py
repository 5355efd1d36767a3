"""Generating block by block, as the plugin does: the PyTorch reference (`torch_streamer`, with the stream
defaults in `StreamConfig`), the same through a package's ONNX graphs (`onnx_streamer`, `onnx_vae`), the KV
cache, the host-reproducible noise, the whole generative delay (`live`) and `python -m lmdm.streaming.generate`."""

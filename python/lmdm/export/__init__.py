"""Trained models to ONNX model packages for the plugin (`python -m lmdm.export`, also `export/export_onnx.py`):
the DiT, VAE and control-feature graphs, ONNX Runtime's offline optimisation, golden fixtures, and the
manifest, written and checked in one module (`manifest`)."""

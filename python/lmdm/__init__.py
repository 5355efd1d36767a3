"""LMDM: Live Music Diffusion Model.

The Python side trains and exports the models; the real-time engine is C++ (plugin/engine) and is
reachable from Python through the compiled `lmdm._engine` module (built by `make build`).
"""

__version__ = "0.1.0"

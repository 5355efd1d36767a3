"""Which arithmetic a training run computes in: float32, bfloat16 autocast, or whichever the device does natively.

bfloat16 autocast pays only where the hardware computes it: on a CPU with AMX or AVX-512 BF16 an ARC
step took 0.6x the float32 time (2026-11-29), but on one without (an AMD EPYC without AVX-512,
session 23) oneDNN emulates it and a step of run 10 took 100 s instead of a few. "auto" asks the
device; an explicit "bf16" where it is emulated still runs, with a warning that says so.
"""

import warnings

import torch

PRECISIONS = ("fp32", "bf16", "auto")


def native_bfloat16(device_type: str) -> bool:
    """Whether `device_type` ("cpu", "cuda", ...) computes bfloat16 products in hardware."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def resolve_precision(precision: str, device: str) -> str:
    """"fp32" or "bf16" for a run on `device` ("cpu", "cuda", "cuda:1"): "auto" becomes bf16 where it is
    native, else fp32. Raises on an unknown name; warns when bf16 is asked for where it is emulated."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    device_type = torch.device(device).type
    if precision == "auto":
        return "bf16" if native_bfloat16(device_type) else "fp32"
    if precision == "bf16" and not native_bfloat16(device_type):
        warnings.warn(f"--precision bf16 on a {device_type} without native bfloat16: autocast is emulated and "
                      "many times slower than float32 here; --precision auto or fp32 trains faster", stacklevel=2)
    return precision

"""`--precision auto` picks bfloat16 only where the device computes it natively (lmdm.training.precision)."""

import warnings

import pytest

from lmdm.arc.train import ArcConfig
from lmdm.dit.train import TrainDiTConfig
from lmdm.training import precision


@pytest.mark.parametrize("native, expected", [(True, "bf16"), (False, "fp32")])
def test_auto_is_bfloat16_only_where_native(monkeypatch, native, expected):
    monkeypatch.setattr(precision, "native_bfloat16", lambda device_type: native)
    assert precision.resolve_precision("auto", "cpu") == expected
    assert TrainDiTConfig(precision="auto").precision == expected
    assert ArcConfig(precision="auto").precision == expected


def test_emulated_bfloat16_is_kept_with_a_warning(monkeypatch):
    monkeypatch.setattr(precision, "native_bfloat16", lambda device_type: False)
    with pytest.warns(UserWarning, match="without native bfloat16"):
        assert precision.resolve_precision("bf16", "cpu") == "bf16"
    monkeypatch.setattr(precision, "native_bfloat16", lambda device_type: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert precision.resolve_precision("bf16", "cuda:0") == "bf16"
        assert precision.resolve_precision("fp32", "cpu") == "fp32"


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="fp32, bf16, auto"):
        TrainDiTConfig(precision="fp16")

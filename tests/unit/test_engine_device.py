"""--device auto picks the GPU when torch sees one, else the CPU; bad devices are refused."""

import pytest
import torch

from reidbench.engine.sources import resolve_device
from reidbench.errors import InputError


def test_auto_follows_what_torch_sees(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"


def test_explicit_devices_are_checked():
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(InputError, match="'auto', 'cpu', 'cuda' or 'cuda:N'"):
        resolve_device("gpu0")

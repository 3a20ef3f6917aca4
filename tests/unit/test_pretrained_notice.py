"""Every baseline says, in one line, when it trains without the ImageNet weights its code uses."""

from __future__ import annotations

import pytest

from reidbench.adapters import get_adapter

SMALL = {"stmn": {"backbone": "small", "width": 8}, "cosam": {"backbone": "small"},
         "read": {"backbone": "small", "input_size": (64, 32)}, "stan": {"backbone": "small"},
         "denseil": {"backbone": "small"}}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_one_line_without_imagenet_none_with(name, tmp_path):
    lines = get_adapter(name, num_classes=2, **SMALL[name]).training_notices()
    assert len(lines) == 1 and "\n" not in lines[0]
    assert "without ImageNet weights" in lines[0] and '"pretrained"' in lines[0]
    given = get_adapter(name, num_classes=2, pretrained=str(tmp_path / "r50.pth"), **SMALL[name])
    assert given.training_notices() == []  # the file is only read when training starts


def test_cosam_names_the_se_resnet_file():
    assert "Cadene se_resnet50" in get_adapter("cosam", num_classes=2).training_notices()[0]

"""SE-ResNet-50 whose state_dict keys match the common Caffe-converted release.

The release is Cadene's ``pretrainedmodels`` ``se_resnet50`` (file ``se_resnet50-ce0d4300.pth``,
BSD-3), the backbone COSAM uses. Its layout differs from torchvision's ResNet-50:

- the stem is ``layer0.{conv1, bn1, relu1, pool}``, the pool being ``MaxPool2d(3, 2,
  ceil_mode=True)`` without padding (256x128 input still gives 64x32);
- the stride of a stage's first block sits on ``conv1`` (the 1x1), not on ``conv2``;
- each block has ``se_module.fc1`` / ``se_module.fc2``: 1x1 convolutions with bias, C -> C/16 -> C;
  the SE gate (GAP, fc1, ReLU, fc2, sigmoid) rescales the bn3 output before the residual sum;
- ``layerL.0.downsample.{0, 1}`` (1x1 conv with the stage's stride, BN) in every stage;
- the classifier is ``last_linear`` (built only with ``with_fc=True``).

timm's ``seresnet50`` is a different network (other stride placement, key names and weights); its
files do not load here. This module is written from the architecture description above; no code
was copied.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from reidbench_baselines.common.resnet import conv_out

__all__ = ["SEModule", "SEResNetBottleneck", "SEResNet"]


class SEModule(nn.Module):
    """Squeeze-and-excitation gate: ``x * sigmoid(fc2(relu(fc1(GAP(x)))))`` with 1x1 convs."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Rescale each channel of ``x`` by its gate in (0, 1)."""
        gate = self.fc2(self.relu(self.fc1(x.mean(dim=(2, 3), keepdim=True))))
        return x * torch.sigmoid(gate)


class SEResNetBottleneck(nn.Module):
    """Caffe-style SE bottleneck: stride on the first 1x1 conv, SE before the residual sum."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, reduction: int = 16,
                 final_relu: bool = True) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.se_module = SEModule(planes * 4, reduction)
        self.downsample = downsample
        self.final_relu = final_relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """relu(se(bn3(conv3(...))) + identity)."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.se_module(self.bn3(self.conv3(out))) + identity
        return self.relu(out) if self.final_relu else out


class SEResNet(nn.Module):
    """SE-ResNet trunk with Cadene key names and the stage interface of :class:`ResNet`.

    Args:
        layers: Blocks per stage ((3, 4, 6, 3) for SE-ResNet-50).
        last_stride: Stride of layer4 (1 for re-ID, COSAM-TP).
        stem_relu: Apply ``layer0.relu1`` (always True in the release; a switch for symmetry).
        with_fc: Build ``last_linear`` (``Linear(2048, 1000)``).
        reduction: SE reduction ratio (16 in the release).
    """

    widths = (64, 128, 256, 512)

    def __init__(self, layers: tuple[int, int, int, int] = (3, 4, 6, 3), last_stride: int = 1,
                 stem_relu: bool = True, with_fc: bool = False, reduction: int = 16) -> None:
        super().__init__()
        self.last_stride = last_stride
        self.stem_relu = stem_relu
        self.reduction = reduction
        self.layers = tuple(layers)
        self.layer0 = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)),
            ("bn1", nn.BatchNorm2d(64)),
            ("relu1", nn.ReLU(inplace=True) if stem_relu else nn.Identity()),
            ("pool", nn.MaxPool2d(3, stride=2, ceil_mode=True)),
        ]))
        self.inplanes = 64
        strides = (1, 2, 2, last_stride)
        for i, (n, w, s) in enumerate(zip(layers, self.widths, strides, strict=True), start=1):
            setattr(self, f"layer{i}", self.make_layer(w, n, s))
        self.last_linear = nn.Linear(2048, 1000) if with_fc else None
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @property
    def stage_channels(self) -> tuple[int, int, int, int, int]:
        """Output channels of the stem and of layer1..layer4."""
        return (64, *(w * 4 for w in self.widths))  # type: ignore[return-value]

    def feature_hw(self, h: int, w: int) -> list[tuple[int, int]]:
        """Spatial sizes after the stem and after layer1..layer4 for an ``h x w`` input."""
        def stem(n: int) -> int:
            return conv_out(conv_out(n, 7, 2, 3), 3, 2, 0, ceil=True)

        sizes = [(stem(h), stem(w))]
        for s in (1, 2, 2, self.last_stride):
            ph, pw = sizes[-1]
            sizes.append((conv_out(ph, 1, s, 0), conv_out(pw, 1, s, 0)))
        return sizes

    def make_layer(self, planes: int, blocks: int, stride: int, inplanes: int | None = None,
                   final_relu: bool = True) -> nn.Sequential:
        """Build a stage; ``inplanes`` overrides the running channel count (for cloned heads)."""
        inp = self.inplanes if inplanes is None else inplanes
        out = planes * 4
        down = None
        if stride != 1 or inp != out:
            down = nn.Sequential(nn.Conv2d(inp, out, 1, stride=stride, bias=False),
                                 nn.BatchNorm2d(out))
        mods = [SEResNetBottleneck(inp, planes, stride, down, self.reduction)]
        mods += [SEResNetBottleneck(out, planes, reduction=self.reduction)
                 for _ in range(1, blocks)]
        mods[-1].final_relu = final_relu
        if inplanes is None:
            self.inplanes = out
        return nn.Sequential(*mods)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """layer0: conv1 -> bn1 -> relu1 -> pool (ceil mode)."""
        return self.layer0(x)

    def stages(self) -> list[nn.Module]:
        """[layer1, layer2, layer3, layer4] (conv2_x .. conv5_x)."""
        return [self.layer1, self.layer2, self.layer3, self.layer4]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` -> layer4 feature map ``(N, 2048, h, w)``."""
        x = self.stem(x)
        for stage in self.stages():
            x = stage(x)
        return x

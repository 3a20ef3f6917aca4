"""ResNet backbones whose state_dict keys match torchvision's, plus a narrow one for CPU runs.

``resnet50`` has exactly torchvision's parameter names and shapes (``conv1``, ``bn1``,
``layer1.0.conv1`` ... ``layer4.2.bn3``, ``layerL.0.downsample.{0,1}``; stride on ``conv2``, the
"v1.5" placement), so ImageNet weights from a local file load with :func:`load_pretrained`.
``small`` is the same design with BasicBlocks, [1, 1, 1, 1] blocks and narrow widths, for CPU tests
and demos. Both expose :meth:`ResNet.stages` for methods that insert modules between stages, and
``last_stride=1`` (re-ID convention) and ``stem_relu`` (STMN / READ-video omit the stem ReLU).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "BackboneSpec", "BACKBONES", "build_backbone"]


class Bottleneck(nn.Module):
    """torchvision's Bottleneck (expansion 4, stride on the 3x3 conv)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, final_relu: bool = True) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.final_relu = final_relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out)) + identity
        return self.relu(out) if self.final_relu else out


class BasicBlock(nn.Module):
    """torchvision's BasicBlock (two 3x3 convs, expansion 1)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, final_relu: bool = True) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.final_relu = final_relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out)) + identity
        return self.relu(out) if self.final_relu else out


@dataclass(frozen=True)
class BackboneSpec:
    """Architecture of a ResNet variant: block type, blocks and widths per stage."""

    block: type
    layers: tuple[int, int, int, int]
    widths: tuple[int, int, int, int]
    stem: int

    @property
    def channels(self) -> tuple[int, int, int, int]:
        """Output channels of layer1..layer4."""
        return tuple(w * self.block.expansion for w in self.widths)  # type: ignore[return-value]


BACKBONES: dict[str, BackboneSpec] = {
    "resnet50": BackboneSpec(Bottleneck, (3, 4, 6, 3), (64, 128, 256, 512), 64),
    "resnet18": BackboneSpec(BasicBlock, (2, 2, 2, 2), (64, 128, 256, 512), 64),
    "small": BackboneSpec(BasicBlock, (1, 1, 1, 1), (16, 32, 64, 128), 16),
}


class ResNet(nn.Module):
    """A ResNet trunk without the classifier (``fc``), torchvision key names.

    Args:
        spec: Block type, blocks per stage and widths.
        last_stride: Stride of layer4 (1 for re-ID: 256x128 input gives 16x8 maps).
        stem_relu: Apply the ReLU after ``bn1`` (False reproduces STMN's / READ-video's stem).
    """

    def __init__(self, spec: BackboneSpec, last_stride: int = 1, stem_relu: bool = True) -> None:
        super().__init__()
        self.spec = spec
        self.stem_relu = stem_relu
        self.conv1 = nn.Conv2d(3, spec.stem, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(spec.stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.inplanes = spec.stem
        strides = (1, 2, 2, last_stride)
        for i, (n, w, s) in enumerate(zip(spec.layers, spec.widths, strides), start=1):
            setattr(self, f"layer{i}", self.make_layer(w, n, s))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def make_layer(self, planes: int, blocks: int, stride: int, inplanes: int | None = None,
                   final_relu: bool = True) -> nn.Sequential:
        """Build a stage; ``inplanes`` overrides the running channel count (for cloned heads)."""
        block = self.spec.block
        inp = self.inplanes if inplanes is None else inplanes
        out = planes * block.expansion
        # torchvision gives block 0 a downsample whenever stride != 1 or channels change; for
        # Bottleneck stacks that is every stage, layer1 included.
        down = None
        if stride != 1 or inp != out:
            down = nn.Sequential(nn.Conv2d(inp, out, 1, stride=stride, bias=False),
                                 nn.BatchNorm2d(out))
        mods = [block(inp, planes, stride, down)]
        mods += [block(out, planes) for _ in range(1, blocks)]
        mods[-1].final_relu = final_relu
        if inplanes is None:
            self.inplanes = out
        return nn.Sequential(*mods)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """conv1 -> bn1 -> (ReLU) -> maxpool."""
        x = self.bn1(self.conv1(x))
        return self.maxpool(self.relu(x) if self.stem_relu else x)

    def stages(self) -> list[nn.Module]:
        """[layer1, layer2, layer3, layer4]."""
        return [self.layer1, self.layer2, self.layer3, self.layer4]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` -> layer4 feature map."""
        x = self.stem(x)
        for stage in self.stages():
            x = stage(x)
        return x


def build_backbone(name: str, *, last_stride: int = 1, stem_relu: bool = True) -> ResNet:
    """Build a registered backbone (``resnet50``, ``resnet18``, ``small``)."""
    from reidbench.errors import InputError, describe
    from reidbench.registry import suggest

    if name not in BACKBONES:
        raise InputError(describe(f"backbone {name!r}", "build_backbone",
                                  f"one of {sorted(BACKBONES)}", "an unknown name",
                                  suggest(name, sorted(BACKBONES))))
    return ResNet(BACKBONES[name], last_stride=last_stride, stem_relu=stem_relu)

"""ResNet backbones whose state_dict keys match torchvision's, plus a narrow one for CPU runs.

``resnet50`` has exactly torchvision's parameter names and shapes (``conv1``, ``bn1``,
``layer1.0.conv1`` ... ``layer4.2.bn3``, ``layerL.0.downsample.{0,1}``; stride on ``conv2``, the
"v1.5" placement), so ImageNet weights from a local file load with
:func:`reidbench_baselines.common.load_pretrained`. The classifier ``fc`` is built only with
``with_fc=True`` (re-ID drops it; the loader ignores it in the file). ``small`` is the same design
with BasicBlocks, one block per stage and a configurable narrow width, for CPU tests and demos.

Every backbone here (and :class:`reidbench_baselines.common.senet.SEResNet`) has the same *stage
interface*: ``stem(x)``, ``stages()`` (the four residual stages, conv2_x .. conv5_x),
``stage_channels`` (the output channels of the stem and of each stage, five numbers) and
``feature_hw(h, w)`` (the spatial size after the stem and after each stage), so methods can insert
modules after any stage (COSAM) or clone a stage (STMN's three layer4 heads).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "BackboneSpec", "BACKBONES", "conv_out"]


def conv_out(size: int, kernel: int, stride: int, padding: int, ceil: bool = False) -> int:
    """Output length of a convolution or pooling along one axis (PyTorch's formula)."""
    span = size + 2 * padding - kernel
    return (-(-span // stride) if ceil else span // stride) + 1


class Bottleneck(nn.Module):
    """torchvision's Bottleneck (expansion 4, stride on the 3x3 conv).

    ``final_relu=False`` drops the ReLU after the residual sum (STMN's query heads).
    """

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
        """conv1-bn1-relu, conv2-bn2-relu, conv3-bn3, + identity, relu."""
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
        """conv1-bn1-relu, conv2-bn2, + identity, relu."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out)) + identity
        return self.relu(out) if self.final_relu else out


@dataclass(frozen=True)
class BackboneSpec:
    """Architecture of a ResNet variant: block type, blocks and widths per stage, stem width."""

    block: type
    layers: tuple[int, int, int, int]
    widths: tuple[int, int, int, int]
    stem: int

    @property
    def channels(self) -> tuple[int, int, int, int]:
        """Output channels of layer1..layer4."""
        return tuple(w * self.block.expansion for w in self.widths)  # type: ignore[return-value]


def small_spec(width: int = 16) -> BackboneSpec:
    """The narrow CPU backbone: ResNet-18 design, one BasicBlock per stage, widths w, 2w, 4w, 8w."""
    return BackboneSpec(BasicBlock, (1, 1, 1, 1), (width, 2 * width, 4 * width, 8 * width), width)


BACKBONES: dict[str, BackboneSpec] = {
    "resnet50": BackboneSpec(Bottleneck, (3, 4, 6, 3), (64, 128, 256, 512), 64),
    "resnet18": BackboneSpec(BasicBlock, (2, 2, 2, 2), (64, 128, 256, 512), 64),
    "small": small_spec(16),
}


class ResNet(nn.Module):
    """A torchvision-named ResNet trunk; the classifier ``fc`` only with ``with_fc=True``.

    Args:
        spec: Block type, blocks per stage and widths.
        last_stride: Stride of layer4 (1 for re-ID: 256x128 input gives 16x8 maps; 2 gives 8x4).
        stem_relu: Apply the ReLU after ``bn1`` (False reproduces STMN's / READ-video's stem).
        with_fc: Build ``fc`` (``Linear(C4, 1000)``) so the state dict is torchvision's in full.
    """

    def __init__(self, spec: BackboneSpec, last_stride: int = 1, stem_relu: bool = True,
                 with_fc: bool = False) -> None:
        super().__init__()
        self.spec = spec
        self.stem_relu = stem_relu
        self.last_stride = last_stride
        self.conv1 = nn.Conv2d(3, spec.stem, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(spec.stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.inplanes = spec.stem
        strides = (1, 2, 2, last_stride)
        for i, (n, w, s) in enumerate(zip(spec.layers, spec.widths, strides, strict=True), start=1):
            setattr(self, f"layer{i}", self.make_layer(w, n, s))
        self.fc = nn.Linear(spec.channels[3], 1000) if with_fc else None
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @property
    def stage_channels(self) -> tuple[int, int, int, int, int]:
        """Output channels of the stem and of layer1..layer4 (conv1 .. conv5_x)."""
        return (self.spec.stem, *self.spec.channels)  # type: ignore[return-value]

    def feature_hw(self, h: int, w: int) -> list[tuple[int, int]]:
        """Spatial sizes after the stem and after layer1..layer4 for an ``h x w`` input."""
        def stem(n: int) -> int:
            return conv_out(conv_out(n, 7, 2, 3), 3, 2, 1)

        sizes = [(stem(h), stem(w))]
        for s in (1, 2, 2, self.last_stride):
            ph, pw = sizes[-1]
            sizes.append((conv_out(ph, 3, s, 1), conv_out(pw, 3, s, 1)))
        return sizes

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
        """[layer1, layer2, layer3, layer4] (conv2_x .. conv5_x)."""
        return [self.layer1, self.layer2, self.layer3, self.layer4]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` -> layer4 feature map ``(N, C4, h, w)`` (no pooling, no fc)."""
        x = self.stem(x)
        for stage in self.stages():
            x = stage(x)
        return x

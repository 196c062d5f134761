"""CNN backbones with the standard HRNet key layout.

* :class:`HRNetStem` - conv3x3 s2 (3->64) + BN + ReLU, conv3x3 s2 (64->64) + BN + ReLU, ``layer1`` = 4
  Bottlenecks (64 -> 256 channels): ``(B, 3, H, W) -> (B, 256, H/4, W/4)``. Its modules are added directly to the
  owning module (``conv1``, ``bn1``, ``conv2``, ``bn2``, ``layer1``) because the official PPT-S keeps them beside
  the transformer parameters under one ``features.`` prefix.
* :class:`HRNetBackbone` - the stem + ``transition1``, ``stage2`` (1 module, 2 branches), ``transition2``,
  ``stage3`` (4 modules, 3 branches, the last one fusing to the highest resolution only):
  ``(B, 3, H, W) -> (B, C, H/4, W/4)`` with C = 32 (W32) or 48 (W48).
"""

from __future__ import annotations

import torch
from torch import nn

BN_MOMENTUM = 0.1


class Bottleneck(nn.Module):
    """ResNet bottleneck (1x1, 3x3, 1x1, expansion 4) with optional 1x1 downsample."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(out + residual)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with identity shortcut (HRNet branches)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels, momentum=BN_MOMENTUM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + x)


def make_layer1() -> nn.Sequential:
    """HRNet ``layer1``: 4 Bottlenecks 64 -> 256 channels, the first with a 1x1 downsample."""
    downsample = nn.Sequential(
        nn.Conv2d(64, 256, 1, bias=False), nn.BatchNorm2d(256, momentum=BN_MOMENTUM)
    )
    return nn.Sequential(Bottleneck(64, 64, downsample), *[Bottleneck(256, 64) for _ in range(3)])


class HRNetStem:
    """Mixin adding the HRNet stem modules to an ``nn.Module`` and a ``stem(x)`` method.

    ``(B, 3, H, W) -> (B, 256, H/4, W/4)``.
    """

    def _build_stem(self) -> None:
        self.conv1 = nn.Conv2d(3, 64, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(64, 64, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = make_layer1()

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        return self.layer1(x)


def _conv_bn(cin: int, cout: int, kernel: int, stride: int, relu: bool) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class HighResolutionModule(nn.Module):
    """Parallel branches of BasicBlocks plus SUM fusion between resolutions.

    ``fuse_layers[i][j]``: ``j > i`` 1x1 conv + BN + nearest upsampling; ``j < i`` a chain of stride-2 3x3 convs
    (ReLU between, not after the last); ``j == i`` identity. ``multi_scale_output=False`` keeps output 0 only.
    """

    def __init__(self, channels: list[int], num_blocks: int = 4, multi_scale_output: bool = True) -> None:
        super().__init__()
        n = len(channels)
        self.branches = nn.ModuleList(
            nn.Sequential(*[BasicBlock(c) for _ in range(num_blocks)]) for c in channels
        )
        fuse_layers = []
        for i in range(n if multi_scale_output else 1):
            row: list[nn.Module | None] = []
            for j in range(n):
                if j > i:
                    row.append(
                        nn.Sequential(
                            nn.Conv2d(channels[j], channels[i], 1, bias=False),
                            nn.BatchNorm2d(channels[i]),
                            nn.Upsample(scale_factor=2 ** (j - i), mode="nearest"),
                        )
                    )
                elif j == i:
                    row.append(None)
                else:
                    steps = [_conv_bn(channels[j], channels[j], 3, 2, relu=True) for _ in range(i - j - 1)]
                    steps.append(_conv_bn(channels[j], channels[i], 3, 2, relu=False))
                    row.append(nn.Sequential(*steps))
            fuse_layers.append(nn.ModuleList(row))
        self.fuse_layers = nn.ModuleList(fuse_layers)
        self.relu = nn.ReLU(inplace=True)  # y is always a fresh sum

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        out = []
        for i, row in enumerate(self.fuse_layers):
            y = xs[0] if i == 0 else row[0](xs[0])
            for j in range(1, len(xs)):
                y = y + (xs[j] if i == j else row[j](xs[j]))
            out.append(self.relu(y))
        return out


class HRNetBackbone(nn.Module, HRNetStem):
    """HRNet up to stage 3, returning the highest-resolution branch: ``(B,3,H,W) -> (B, width, H/4, W/4)``."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self._build_stem()
        c1, c2, c3 = width, 2 * width, 4 * width
        self.transition1 = nn.ModuleList(
            [_conv_bn(256, c1, 3, 1, relu=True), nn.Sequential(_conv_bn(256, c2, 3, 2, relu=True))]
        )
        self.stage2 = nn.Sequential(HighResolutionModule([c1, c2]))
        # transition2: branches 0 and 1 keep their channels (None); branch 2 comes from the last branch.
        self.transition2 = nn.ModuleList([nn.Identity(), nn.Identity(), nn.Sequential(_conv_bn(c2, c3, 3, 2, True))])
        self.stage3 = nn.Sequential(
            *[HighResolutionModule([c1, c2, c3], multi_scale_output=(k < 3)) for k in range(4)]
        )
        self.width = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        ys = self.stage2([self.transition1[0](x), self.transition1[1](x)])
        xs = [ys[0], ys[1], self.transition2[2](ys[-1])]
        return self.stage3(xs)[0]

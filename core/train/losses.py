"""Heatmap losses of the official code (PPT_SPEC sections 4.4 and 5.3)."""

from __future__ import annotations

import torch


def joints_mse_single_view(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``pred``/``target`` (B, J, H, W), ``weight`` (B, J): per joint ``0.5 * mean((p w - t w)^2)`` over batch
    and pixels, averaged over joints."""
    w = weight[..., None, None].to(pred.dtype)
    return 0.5 * ((pred * w - target * w) ** 2).mean(dim=(0, 2, 3)).mean()


def joints_mse_multi_view(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``pred``/``target`` (B, V, J, H, W), ``weight`` (B, V, J): for each view, the sum over joints of
    ``mean((p w - t w)^2)`` (over batch and pixels), summed over views."""
    w = weight[..., None, None].to(pred.dtype)
    return ((pred * w - target * w) ** 2).mean(dim=(0, 3, 4)).sum()


class BackboneHeatmapHead(torch.nn.Module):
    """Training aid: a 1x1 convolution from the CNN feature map to the joint heatmaps (the feature map is already at
    heatmap resolution, H/4 x W/4), whose heatmap loss is added to the model's.

    It gives the CNN a direct, local learning signal, so its features say early on which joint is where and the
    keypoint tokens have something to attend to (a from-scratch TokenPose otherwise sits for thousands of steps
    at the mean pose). The official B/L models get that from an ImageNet-pretrained HRNet instead. Attached with a
    forward hook; never part of the model or its exported weights.

    ``loss(target (..., J, h, w), weight (..., J))`` after a forward of the model; shapes follow the model's
    heatmaps (``(B, J, h, w)`` single-view, ``(B, V, J, h, w)`` multi-view).
    """

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        from core.model.config import BACKBONE_CHANNELS

        cfg = model.config
        self.conv = torch.nn.Conv2d(BACKBONE_CHANNELS[cfg.backbone], cfg.num_keypoints, 1)
        torch.nn.init.normal_(self.conv.weight, std=0.001)
        torch.nn.init.zeros_(self.conv.bias)
        source = model.features.layer1 if cfg.backbone == "stem" else model.pre_feature
        self._features: torch.Tensor | None = None
        self._hook = source.register_forward_hook(self._keep)

    def _keep(self, module, inputs, output) -> None:
        self._features = output if module.training else None

    def remove(self) -> None:
        self._hook.remove()

    def loss(self, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        if self._features is None:
            raise RuntimeError("BackboneHeatmapHead.loss needs a training-mode forward of the model first")
        pred = self.conv(self._features).float().reshape(target.shape)
        self._features = None
        if target.dim() == 5:
            return joints_mse_multi_view(pred, target, weight)
        return joints_mse_single_view(pred, target, weight)

"""Training aids that get a from-scratch TokenPose / PPT out of the mean pose faster.

A from-scratch pose transformer first learns the mean pose: its keypoint tokens attend uniformly to every visual
token, so their outputs carry no image position, and the heatmap MSE gives the attention only a weak, diffuse
gradient (``assets/weights/MODEL_CARD.md``). Each aid adds a direct learning signal. All of them are
training-only: they observe the model through forward hooks or own small extra heads, never change the model's
modules, and nothing of them is exported, so trained weights keep the official architecture and official
checkpoints still load strictly.

* ``attention``: cross-entropy between each keypoint token's head-mean attention over the visual tokens and the
  joint's ground-truth heat map pooled to the token grid, at every per-view encoder layer (kept tokens only).
* ``token_heatmap``: a linear classifier on the visual tokens of the last per-view layer; for each joint, a
  softmax over the tokens is trained against the pooled heat map (a dense, local signal for the token features).
* ``simcc``: an auxiliary SimCC head (Li et al., ECCV 2022) on the final keypoint tokens: 1D classification of
  x and y in bins of ``1 / split`` crop pixels, against Gaussian soft labels.
* ``foreground``: the heat map MSE with pixels near a joint (target > 0.1) weighted ``1 + foreground``.
* ``stem``: a small convolutional heat map head on the CNN stem's features (spatial softmax cross-entropy);
  ``stem_pretrain_crops`` trains only the stem and this head first (staged pretraining).

Shapes: the model's heat maps ``(B, J, h, w)`` or ``(B, V, J, h, w)``; aids work per view on ``(B*V, ...)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from core.model.config import BACKBONE_CHANNELS
from core.train.config import AidWeights


def pooled_token_targets(heatmaps: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """``(N, J, h, w)`` heat maps -> ``(N, J, gh*gw)`` mass per visual token (row-major grid, unnormalised)."""
    return F.adaptive_avg_pool2d(heatmaps, grid).flatten(2)


def soft_cross_entropy(log_probs: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over ``mask`` rows of ``-sum(target * log_probs)``; ``target`` rows are normalised here.

    ``log_probs``/``target`` ``(..., K)``, ``mask`` ``(...)`` bool (rows whose target has no mass are skipped too).
    """
    mass = target.sum(-1)
    mask = mask & (mass > 1e-6)
    if not mask.any():
        return log_probs.sum() * 0.0
    t = target / mass.clamp_min(1e-6)[..., None]
    return -(t * log_probs).sum(-1)[mask].mean()


class SimCCHead(nn.Module):
    """``LN -> Linear(D, W*split)`` and ``LN -> Linear(D, H*split)`` on keypoint tokens ``(N, J, D)``."""

    def __init__(self, dim: int, image_size: tuple[int, int], split: float) -> None:
        super().__init__()
        self.bins = (int(image_size[1] * split), int(image_size[0] * split))
        self.split = split
        self.norm = nn.LayerNorm(dim)
        self.x = nn.Linear(dim, self.bins[0])
        self.y = nn.Linear(dim, self.bins[1])

    def loss(self, tokens: torch.Tensor, joints: torch.Tensor, weight: torch.Tensor, sigma: float) -> torch.Tensor:
        """``tokens (N, J, D)``, ``joints (N, J, 2)`` crop px, ``weight (N, J)``: KL to Gaussian 1D labels."""
        h = self.norm(tokens.float())
        total = 0.0
        for axis, head, bins in ((0, self.x, self.bins[0]), (1, self.y, self.bins[1])):
            centers = torch.arange(bins, device=tokens.device, dtype=torch.float32)
            mu = joints[..., axis:axis + 1].float() * self.split
            label = torch.exp(-((centers - mu) ** 2) / (2 * sigma ** 2))
            total = total + soft_cross_entropy(head(h).log_softmax(-1), label, weight > 0)
        return total / 2


class StemHeatmapHead(nn.Module):
    """Three 3x3 convolutions (dilated, for a wider view than the stem's 39 px) from the stem's 256-channel
    features to J heat maps at the feature resolution, trained with a spatial softmax cross-entropy."""

    def __init__(self, channels: int, joints: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(inplace=True),
            nn.Conv2d(128, 128, 3, padding=2, dilation=2), nn.BatchNorm2d(128), nn.ReLU(inplace=True),
            nn.Conv2d(128, joints, 3, padding=4, dilation=4),
        )

    def loss(self, features: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """``features (N, C, h, w)``, ``target (N, J, h, w)``, ``weight (N, J)``."""
        logits = self.net(features).float().flatten(2)
        return soft_cross_entropy(logits.log_softmax(-1), target.flatten(2), weight > 0)


class TrainingAids(nn.Module):
    """Hooks on a TokenPose / PPT model and the aids' heads and losses.

    Use: ``aids = TrainingAids(model, weights)``; per step, after the model's forward (training mode),
    ``aids.loss(out, target, weight, joints, fuse, crops)``; for the stem stage, ``aids.stem_only_loss(images,
    target, weight)``. ``remove()`` detaches the hooks.
    """

    def __init__(self, model: nn.Module, weights: AidWeights) -> None:
        super().__init__()
        self.weights = weights
        cfg = model.config
        self.config = cfg
        # The model is observed, not owned: kept outside nn.Module registration so that the aids' parameters and
        # state_dict hold only their own heads.
        self._observed = (model.features if cfg.backbone == "stem" else model.transformer,)
        encoder = self.body.encoders[0]
        self.per_view_layers = cfg.depth - cfg.fusion_layers
        self._records: dict = {}
        self._hooks = []
        if weights.attention:
            for i, layer in enumerate(encoder.layers):
                self._hooks.append(layer.attention.fn.register_forward_hook(self._attention_hook(i)))
        if weights.token_heatmap:
            self.token_head = nn.Linear(cfg.dim, cfg.num_keypoints)
            last = encoder.layers[self.per_view_layers - 1]
            self._hooks.append(last._modules["1"].register_forward_hook(self._keep("tokens")))
            # unfused steps run the per-view stack to the end: take the tokens of the same layer index
        if weights.simcc:
            self.simcc_head = SimCCHead(cfg.dim * cfg.layer_groups, cfg.image_size, weights.simcc_split)
            self._hooks.append(self.body.mlp_head.register_forward_pre_hook(self._keep_input("keypoints")))
        if weights.stem or weights.stem_pretrain_crops:
            if cfg.backbone != "stem":
                raise ValueError("the stem aid needs a model with the HRNet stem (S models)")
            self.stem_head = StemHeatmapHead(BACKBONE_CHANNELS["stem"], cfg.num_keypoints)
            self._hooks.append(self.body.layer1.register_forward_hook(self._keep("stem")))

    @property
    def body(self) -> nn.Module:
        """The model's token part (with the stem for S models)."""
        return self._observed[0]

    # ---- hooks ---------------------------------------------------------------------------------
    def _attention_hook(self, layer: int):
        j = self.config.num_keypoints

        def hook(module, inputs, output):
            if not module.training:
                return
            x = inputs[0]  # (N, J + n, D) normalised tokens of a per-view layer (or the fused sequence)
            d = x.shape[-1]
            w = module.to_qkv.weight
            q = F.linear(x[:, :j], w[:d]).view(x.shape[0], j, module.heads, -1).transpose(1, 2)
            k = F.linear(x, w[d:2 * d]).view(x.shape[0], x.shape[1], module.heads, -1).transpose(1, 2)
            attn = (q @ k.transpose(-2, -1) * module.scale).softmax(-1)[..., j:]  # (N, heads, J, n)
            self._records.setdefault("attention", []).append((layer, attn.mean(1)))

        return hook

    def _keep(self, name: str):
        def hook(module, inputs, output):
            if module.training:
                self._records[name] = output

        return hook

    def _keep_input(self, name: str):
        def hook(module, inputs):
            if module.training:
                self._records[name] = inputs[0]

        return hook

    def remove(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks = []

    def clear(self) -> None:
        self._records = {}

    # ---- losses --------------------------------------------------------------------------------
    def _token_index(self, stages, layer: int, n: int, batch: int, device) -> torch.Tensor:
        """``(N, n)`` original grid index of the visual tokens that layer ``layer``'s attention sees."""
        index = None
        for s in stages:
            if s.layer < layer:
                index = s.keep_index
        if index is None:
            return torch.arange(n, device=device).expand(batch, -1)
        return index.reshape(batch, -1)

    def loss(self, out, target: torch.Tensor, weight: torch.Tensor, joints: torch.Tensor | None, fuse: bool,
             crops: int) -> dict[str, torch.Tensor]:
        """The weighted aid losses of the last forward (a dict of scalars; empty when nothing is on)."""
        w, scale = self.weights, self.weights.scale_at(crops)
        cfg = self.config
        target = target.flatten(0, -4).float()  # (N, J, h, w)
        weight = weight.flatten(0, -2)  # (N, J)
        visible = weight > 0
        n_img = target.shape[0]
        records, losses = self._records, {}
        self._records = {}
        if scale <= 0:
            return losses
        pooled = pooled_token_targets(target, cfg.grid_size) if (w.attention or w.token_heatmap) else None
        per_view = self.per_view_layers if fuse else cfg.depth
        if w.attention and records.get("attention"):
            terms = []
            for layer, attn in records["attention"]:
                if layer >= per_view or attn.shape[0] != n_img:
                    continue  # fused layers attend across views; the aid supervises per-view layers
                index = self._token_index(out.stages, layer, cfg.num_patches, n_img, attn.device)
                tgt = torch.gather(pooled, 2, index[:, None, :].expand(-1, pooled.shape[1], -1))
                terms.append(soft_cross_entropy((attn.float() + 1e-8).log(), tgt, visible))
            if terms:
                losses["attention"] = w.attention * scale * torch.stack(terms).mean()
        if w.token_heatmap and "tokens" in records:
            tokens = records["tokens"]
            if tokens.shape[0] == n_img:
                visual = tokens[:, cfg.num_keypoints:]
                index = self._token_index(out.stages, per_view, cfg.num_patches, n_img, visual.device)
                tgt = torch.gather(pooled, 2, index[:, None, :].expand(-1, pooled.shape[1], -1))
                logits = self.token_head(visual.float()).transpose(1, 2)  # (N, J, n)
                losses["token_heatmap"] = w.token_heatmap * scale * soft_cross_entropy(
                    logits.log_softmax(-1), tgt, visible)
        if w.simcc and "keypoints" in records and joints is not None:
            kp = records["keypoints"]
            losses["simcc"] = w.simcc * scale * self.simcc_head.loss(kp, joints.flatten(0, -3), weight,
                                                                    w.simcc_sigma)
        if w.stem and "stem" in records:
            losses["stem"] = w.stem * scale * self.stem_head.loss(records["stem"], target, weight)
        return losses

    def stem_only_loss(self, images: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Staged pretraining step: the stem and its head only. ``images (..., 3, H, W)``."""
        features = self.body.stem(images.flatten(0, -4))
        self._records = {}
        return self.stem_head.loss(features, target.flatten(0, -4).float(), weight.flatten(0, -2))


def foreground_weighted_mse(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, foreground: float,
                            multiview: bool) -> torch.Tensor:
    """The official heat map MSE (multi-view sum or single-view mean form) with pixels where ``target > 0.1``
    weighted ``1 + foreground``."""
    w = weight[..., None, None].to(pred.dtype)
    pixel = 1.0 + foreground * (target > 0.1).to(pred.dtype)
    err = pixel * (pred * w - target * w) ** 2
    if multiview:
        return err.mean(dim=(0, 3, 4)).sum()
    return 0.5 * err.mean(dim=(0, 2, 3)).mean()

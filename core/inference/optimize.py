"""Inference-only model rewrites that keep outputs equal up to float rounding.

* BatchNorm folding: every eval-mode ``Conv2d -> BatchNorm2d`` pair becomes one convolution with bias (the BN is
  replaced by ``nn.Identity``), saving one memory pass per convolution.
* ``channels_last`` memory format for the CNN, which oneDNN runs faster on CPU.
* Attention implementation switch (``scaled_dot_product_attention`` or explicit softmax).
* Skipping discarded work (``PoseTransformer.skip_unused``).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from core.model.encoder import Attention

# (conv attribute, bn attribute) pairs used by the HRNet stem and blocks.
_NAMED_PAIRS = (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3"))


def _fold_named(module: nn.Module) -> int:
    folded = 0
    for conv_name, bn_name in _NAMED_PAIRS:
        conv, bn = getattr(module, conv_name, None), getattr(module, bn_name, None)
        if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
            setattr(module, conv_name, fuse_conv_bn_eval(conv, bn))
            setattr(module, bn_name, nn.Identity())
            folded += 1
    return folded


def _fold_sequential(seq: nn.Sequential) -> int:
    folded = 0
    names = list(seq._modules)
    for a, b in zip(names, names[1:]):
        conv, bn = seq._modules[a], seq._modules[b]
        if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
            seq._modules[a] = fuse_conv_bn_eval(conv, bn)
            seq._modules[b] = nn.Identity()
            folded += 1
    return folded


def fold_batchnorm(model: nn.Module) -> int:
    """Fold BatchNorm into the preceding convolutions in place (model must be in eval mode); returns the count."""
    if model.training:
        raise ValueError("fold_batchnorm needs an eval-mode model (call .eval() first)")
    folded = 0
    for module in list(model.modules()):
        folded += _fold_named(module)
        if isinstance(module, nn.Sequential):
            folded += _fold_sequential(module)
    return folded


def set_attention_impl(model: nn.Module, sdpa: bool) -> None:
    """Use ``scaled_dot_product_attention`` (True) or the explicit softmax path (False) in every attention layer."""
    for m in model.modules():
        if isinstance(m, Attention):
            m.use_sdpa = sdpa


def set_skip_unused(model: nn.Module, skip: bool) -> None:
    """Switch the exact inference shortcuts of every token part (see ``PoseTransformer.skip_unused``)."""
    for m in model.modules():
        if hasattr(m, "skip_unused"):
            m.skip_unused = skip


def optimize_for_inference(model: nn.Module, fold_bn: bool = True, channels_last: bool = True,
                           sdpa: bool = True, skip_unused: bool = True) -> nn.Module:
    """An eval-mode copy of ``model`` with BN folded, channels_last weights, the chosen attention path and the
    exact shortcuts that skip discarded work (attention rows of tokens about to be pruned, visual-token outputs of
    the final layer).

    The copy's state dict no longer matches official checkpoints (load weights before optimising).
    """
    fast = copy.deepcopy(model).eval()
    with torch.no_grad():
        if fold_bn:
            fold_batchnorm(fast)
        if channels_last:
            fast = fast.to(memory_format=torch.channels_last)
    set_attention_impl(fast, sdpa)
    set_skip_unused(fast, skip_unused)
    fast.channels_last = channels_last  # read by the estimator to lay out inputs
    return fast


COMPILE_SCOPES = ("none", "backbone", "all")


def compile_model(model: nn.Module, scope: str = "backbone") -> nn.Module:
    """``torch.compile`` with Inductor freezing (weights become constants: load weights before compiling).

    ``scope="backbone"`` compiles only the CNN (a few seconds of compilation, most of the gain on CPU: fused
    convolution + ReLU / residual kernels); ``"all"`` the whole forward (minutes on 2 cores); ``"none"`` returns the
    model unchanged. A new input shape (e.g. another view count) triggers a recompilation.
    """
    if scope not in COMPILE_SCOPES:
        raise ValueError(f"compile scope must be one of {COMPILE_SCOPES}, got {scope!r}")
    options = {"freezing": True}
    if scope == "all":
        return torch.compile(model, options=options)
    if scope == "backbone":
        if hasattr(model, "pre_feature"):
            model.pre_feature = torch.compile(model.pre_feature, options=options)
        else:  # stem models keep the stem beside the transformer under ``features``
            model.features.stem = torch.compile(model.features.stem, options=options)
    return model

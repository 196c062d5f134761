"""The TokenPose / PPT model family in PyTorch (single-view and multi-view), presets and checkpoint import.

    from core.model import build_model, load_checkpoint
    model = build_model("ppt_s").eval()
    load_checkpoint(model, "ppt_s_256x192_ratio07.pth")
    out = model(images)            # PoseOutput: heatmaps (B, 17, 64, 48), stages[s].keep_index (B, K_s)
"""

from core.model.checkpoints import CheckpointMismatchError, load_checkpoint, read_state_dict
from core.model.config import ModelConfig, get_config, preset_names, register_preset
from core.model.models import MultiViewPoseModel, PoseModel, build_model, init_weights
from core.model.outputs import MultiViewOutput, PoseOutput, PruneStage
from core.model.pruning import HumanTokenIdentification

__all__ = [
    "CheckpointMismatchError",
    "HumanTokenIdentification",
    "ModelConfig",
    "MultiViewOutput",
    "MultiViewPoseModel",
    "PoseModel",
    "PoseOutput",
    "PruneStage",
    "build_model",
    "get_config",
    "init_weights",
    "load_checkpoint",
    "preset_names",
    "read_state_dict",
    "register_preset",
]

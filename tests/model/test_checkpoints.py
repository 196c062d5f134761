"""Strict loading of official checkpoint layouts, using every key/shape dump in ../shared/data/ppt_state_dicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from core.model import CheckpointMismatchError, load_checkpoint, read_state_dict
from core.model.checkpoints import NotAPyTorchFileError, attention_naming, convert_attention_naming, matching_presets
from tests.conftest import shared_path
from tests.model.models_cache import preset_model

# Every official dump and the preset that must load it strictly.
DUMPS = {
    "ppt_s_coco_256x192.json": "ppt_s",
    "ppt_b_coco_256x192.json": "ppt_b",
    "ppt_l_d6_coco_256x192.json": "ppt_l_d6",
    "multiview_ppt_s_h36m_256x256.json": "multiview_ppt_s",
    "tokenpose_s_v1_coco_256x192__ppt_code.json": "tokenpose_s",
    "tokenpose_b_coco_256x192__ppt_code.json": "tokenpose_b",
    "tokenpose_l_d6_coco_256x192__ppt_code.json": "ppt_l_d6",  # same architecture, run at keep 1.0
    "tokenpose_s_v1_coco_256x192__tokenpose_repo.json": "tokenpose_s",
    "tokenpose_b_coco_256x192__tokenpose_repo.json": "tokenpose_b",
    "tokenpose_l_d6_3x2_coco_256x192__tokenpose_repo.json": "tokenpose_l_d6",
}
LAYOUTS = ("bare", "state_dict", "module", "state_dict+module")


def _dump(name: str) -> dict:
    return json.loads(shared_path("ppt_state_dicts", name).read_text())


def _distinct_state_dict(entries: list[dict]) -> dict[str, torch.Tensor]:
    """Tensors with exactly the dumped names and shapes; every tensor different (seeded by its position)."""
    out = {}
    for i, e in enumerate(entries):
        shape = tuple(e["shape"])
        if e["dtype"].startswith("int"):
            out[e["key"]] = torch.tensor(1000 + i, dtype=torch.int64).reshape(shape)
        else:
            g = torch.Generator().manual_seed(i)
            out[e["key"]] = torch.randn(shape, generator=g) + i
    return out


def _save(sd: dict, layout: str, path: Path) -> Path:
    if "module" in layout:
        sd = {f"module.{k}": v for k, v in sd.items()}
    obj = {"state_dict": sd, "epoch": 3} if layout.startswith("state_dict") else sd
    torch.save(obj, path)
    return path


def test_dump_list_is_complete():
    names = {p.name for p in shared_path("ppt_state_dicts").glob("*.json")}
    assert names == set(DUMPS)


@pytest.mark.parametrize("dump_name", sorted(DUMPS))
def test_official_layout_loads_strictly_into_the_right_parameters(dump_name, tmp_path):
    dump = _dump(dump_name)
    preset = DUMPS[dump_name]
    model = preset_model(preset)
    source = _distinct_state_dict(dump["state_dict"])
    layout = LAYOUTS[sorted(DUMPS).index(dump_name) % len(LAYOUTS)]
    backup = {k: v.clone() for k, v in model.state_dict().items()}
    try:
        report = load_checkpoint(model, _save(source, layout, tmp_path / "ckpt.pth"))
        own = model.state_dict()
        renamed = convert_attention_naming(source, model.config.attention_naming)
        assert set(renamed) == set(own)
        for key, value in renamed.items():
            assert torch.equal(own[key], value.to(own[key].dtype)), key
        assert report.loaded == len(own) and report.stripped_prefix == ("module" in layout)
        assert report.source_naming == ("tokenpose" if "tokenpose_repo" in dump_name else "ppt")
        assert dump["num_parameters_total"] == sum(p.numel() for p in model.parameters())
    finally:
        model.load_state_dict(backup)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_of_ppt_s(layout, tmp_path):
    source = _distinct_state_dict(_dump("ppt_s_coco_256x192.json")["state_dict"])
    model = preset_model("ppt_s")
    backup = {k: v.clone() for k, v in model.state_dict().items()}
    try:
        load_checkpoint(model, _save(source, layout, tmp_path / "x.pth"))
        assert torch.equal(model.features.transformer.layers[5].attention.fn.to_qkv.weight,
                           source["features.transformer.layers.5.0.fn.to_qkv.weight"])
    finally:
        model.load_state_dict(backup)


def test_float16_files_are_cast():
    source = _distinct_state_dict(_dump("ppt_s_coco_256x192.json")["state_dict"])
    half = {k: (v.half() if v.is_floating_point() else v) for k, v in source.items()}
    model = preset_model("ppt_s")
    backup = {k: v.clone() for k, v in model.state_dict().items()}
    try:
        load_checkpoint(model, half)
        assert model.features.mlp_head[3].weight.dtype == torch.float32
        assert torch.equal(model.features.mlp_head[3].weight, half["features.mlp_head.3.weight"].float())
    finally:
        model.load_state_dict(backup)


def test_naming_conversion_round_trip():
    sd = preset_model("ppt_b").state_dict()
    tp = convert_attention_naming(sd, "tokenpose")
    assert attention_naming(tp) == "tokenpose" and attention_naming(sd) == "ppt"
    assert "transformer.transformer.layers.0.0.fn.fn.to_qkv.weight" in tp
    assert "transformer.transformer.layers.0.0.fn.norm.weight" in tp
    assert "transformer.transformer.layers.0.1.fn.fn.net.0.weight" in tp  # FFN keys unchanged
    assert convert_attention_naming(tp, "ppt").keys() == sd.keys()


def test_other_preset_raises_listing_keys_and_naming_the_preset():
    with pytest.raises(CheckpointMismatchError) as err:
        load_checkpoint(preset_model("ppt_s"), preset_model("ppt_b").state_dict())
    msg = str(err.value)
    assert isinstance(err.value, ValueError)
    assert "234 missing keys" in msg and "1074 unexpected keys" in msg and "features.keypoint_token" in msg
    assert "looks like preset" in msg and "ppt_b" in msg
    assert "ppt_b" in err.value.looks_like


def test_shape_mismatch_is_reported():
    with pytest.raises(CheckpointMismatchError) as err:
        load_checkpoint(preset_model("ppt_s"), preset_model("multiview_ppt_s").state_dict())
    msg = str(err.value)
    assert "features.patch_to_embedding.weight (checkpoint (192, 4096), model (192, 3072))" in msg
    assert "features.pos_3d_linear.weight" in msg and "multiview_ppt_s" in msg


def test_non_strict_loads_what_matches():
    model = preset_model("multiview_ppt_s")
    backup = {k: v.clone() for k, v in model.state_dict().items()}
    try:
        src = {k: v + 1 if v.is_floating_point() else v for k, v in preset_model("ppt_s").state_dict().items()}
        report = load_checkpoint(model, src, strict=False)
        assert report.missing == ["features.pos_3d_linear.weight", "features.pos_3d_linear.bias"]
        assert any("mlp_head.3.weight" in m for m in report.mismatched)
        assert torch.equal(model.features.conv1.weight, src["features.conv1.weight"])
    finally:
        model.load_state_dict(backup)


def test_matching_presets():
    assert set(matching_presets(preset_model("ppt_s").state_dict())) == {"ppt_s", "tokenpose_s"}
    assert matching_presets(preset_model("tokenpose_l_d6").state_dict()) == ["tokenpose_l_d6"]


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_state_dict(tmp_path / "missing.pth")
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(ValueError, match="mapping"):
        read_state_dict(tmp_path / "list.pth")
    torch.save({"epoch": 3}, tmp_path / "empty.pth")
    with pytest.raises(ValueError, match="without tensors"):
        read_state_dict(tmp_path / "empty.pth")


@pytest.mark.parametrize(("content", "what"), [
    (b"not a checkpoint", "a text file"),
    (b"", "an empty file"),
    (b"<!DOCTYPE html><html><body>404</body></html>", "an HTML page"),
    (b'{"model": 1}', "a JSON text file"),
    (b"\x89HDF\r\n\x1a\n" + bytes(64), "an HDF5 file"),
    (bytes(range(256)) * 4, "unrecognised binary data"),
])
def test_a_file_that_is_not_weights_is_named_never_unpickled(tmp_path, content, what):
    """Issue 14 item 5: the error says what the file is and what was expected; it never advises weights_only=False."""
    path = tmp_path / "weights.pth"
    path.write_bytes(content)
    with pytest.raises(NotAPyTorchFileError) as err:
        read_state_dict(path)
    message = str(err.value)
    assert what in message and "Expected" in message and str(path) in message
    assert "weights_only=False" not in message


def test_a_whole_pickled_model_is_refused_with_the_reason(tmp_path):
    torch.save(torch.nn.Linear(2, 2), tmp_path / "model.pth")  # torch.save(model), not its state_dict
    with pytest.raises(NotAPyTorchFileError, match="state_dict") as err:
        read_state_dict(tmp_path / "model.pth")
    assert "weights_only=False" not in str(err.value)


class _Custom:  # arbitrary pickled objects are refused by weights_only=True
    pass


def test_weights_only_refuses_arbitrary_objects(tmp_path):
    torch.save({"state_dict": {"w": torch.zeros(1)}, "obj": _Custom()}, tmp_path / "obj.pth")
    with pytest.raises(NotAPyTorchFileError, match="can run code") as err:
        read_state_dict(tmp_path / "obj.pth")
    assert "weights_only=False" not in str(err.value)


def test_demo_weights_reader_and_export_name_a_foreign_file(tmp_path):
    from core.inference.weights import read_weights_file
    from core.train.export import export_weights

    (tmp_path / "notes.pth").write_text("hello")
    with pytest.raises(NotAPyTorchFileError, match="ppt-mocap weights file"):
        read_weights_file(tmp_path / "notes.pth")
    with pytest.raises(NotAPyTorchFileError, match="trainer checkpoint"):
        export_weights(tmp_path / "notes.pth", tmp_path / "out.pth")
    assert not (tmp_path / "out.pth").exists()

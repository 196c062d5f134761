import pickle

import numpy as np
import pytest

from core.inference.decode import decode_argmax
from core.train.h36m import H36MMultiView, records_from_mmpose_npz
from tests.conftest import shared_path


def test_h36m_records_parse_and_crops_land_on_the_people(tmp_path):
    root = shared_path("poses", "h36m")
    records = records_from_mmpose_npz(root / "test_h36m_body3d.npz")
    assert len(records) == 4 and {r["subject"] for r in records} == {"S1", "S5", "S7", "S8"}
    records = [dict(r, image=f"{r['subject']}/{r['image'].split('/')[1]}/{r['image'].split('/')[-1]}")
               for r in records]
    ds = H36MMultiView(records, root, root / "cameras.pkl", min_views=1)
    assert len(ds) == 4
    for i in range(len(ds)):
        s = ds.sample(i)
        assert s["crop"].shape == (1, 256, 256, 3) and s["rays"].shape == (1, 256, 3)
        coords, _ = decode_argmax(s["heatmap"][0][None])
        ok = s["weight"][0] > 0
        assert ok.sum() >= 15
        err = np.linalg.norm(coords[0][ok] * 4 - s["joints"][0][ok], axis=1)
        assert np.all(err < 4.0)
        # The person fills the middle of the crop.
        assert np.all((s["joints"][0][ok] > 10) & (s["joints"][0][ok] < 246))
        np.testing.assert_allclose(np.linalg.norm(s["rays"][0], axis=1), 1.0, atol=1e-9)
    item = ds[0]
    assert item["image"].shape == (1, 3, 256, 256) and item["heatmap"].shape == (1, 17, 64, 64)
    # Pickle round trip, and grouping by instant.
    with open(tmp_path / "ann.pkl", "wb") as f:
        pickle.dump(records + [dict(records[0], camera="55011271")], f)
    grouped = H36MMultiView(tmp_path / "ann.pkl", root, root / "cameras.pkl", min_views=2)
    assert len(grouped) == 1 and len(grouped.groups[0]) == 2


def test_h36m_bad_inputs(tmp_path):
    root = shared_path("poses", "h36m")
    with pytest.raises(FileNotFoundError, match="not found"):
        H36MMultiView(tmp_path / "none.pkl", root, root / "cameras.pkl")
    with pytest.raises(ValueError, match="lacks"):
        H36MMultiView([{"image": "x"}], root, root / "cameras.pkl")
    with pytest.raises(ValueError, match="at least 4 views"):
        H36MMultiView(records_from_mmpose_npz(root / "test_h36m_body3d.npz"), root, root / "cameras.pkl",
                      min_views=4)

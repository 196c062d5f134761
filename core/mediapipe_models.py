"""MediaPipe's model files: where they live and how ``ppt-mocap setup mediapipe`` builds them (used by the
BlazePose 2D backend, :mod:`core.estimators.mediapipe_pose`, and the person detector, :mod:`core.locate.detectors`).

The weights come from a registry package: the ``mediapipe==0.10.21`` wheel (the newest that ships the pose models)
holds ``pose_detection.tflite`` and ``pose_landmark_full.tflite`` only (older mediapipe versions downloaded the lite
and heavy landmark models at run time; no Python registry package ships them, so only ``full`` can be set up here:
:data:`VARIANTS`). :func:`setup_mediapipe` extracts the two models, adds the input-normalisation metadata the Tasks
API needs, and bundles them into a ``.task`` file in the user cache directory.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import types
import zipfile
from pathlib import Path

log = logging.getLogger(__name__)

WEIGHTS_WHEEL = "mediapipe==0.10.21"
#: Landmark models that can be set up here: the ones the weights wheel holds.
VARIANTS = ("full",)
#: Landmark models BlazePose has but no registry package ships (see the module docstring).
UNAVAILABLE_VARIANTS = ("lite", "heavy")


def cache_dir() -> Path:
    """Per-user cache folder of ppt-mocap (``$XDG_CACHE_HOME``, ``~/Library/Caches``, ``%LOCALAPPDATA%``)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "ppt-mocap"


def bundle_path(variant: str = "full", root: Path | None = None) -> Path:
    return (root or cache_dir()) / "mediapipe" / f"pose_landmarker_{variant}.task"


def _metadata_writer():
    """mediapipe's pure-Python metadata writer. The 0.10.31 wheel lacks the compiled helper that only computes the
    minimum metadata-parser version, so a stand-in answers "1.0.0" (our metadata uses no newer fields)."""
    name = "mediapipe.tasks.cc.metadata.python._pywrap_metadata_version"
    if name not in sys.modules:
        try:
            __import__(name)
        except ImportError:
            stub = types.ModuleType(name)
            stub.GetMinimumMetadataParserVersion = lambda *args: "1.0.0"
            for parent in ("mediapipe.tasks.cc", "mediapipe.tasks.cc.metadata", "mediapipe.tasks.cc.metadata.python"):
                sys.modules.setdefault(parent, types.ModuleType(parent))
            sys.modules[name] = stub
            sys.modules["mediapipe.tasks.cc.metadata.python"]._pywrap_metadata_version = stub
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, model_asset_bundle_utils, writer_utils

    return metadata_writer, model_asset_bundle_utils, writer_utils


def _with_normalization(model: bytes, mean: float, std: float, name: str) -> bytes:
    metadata_writer, _, writer_utils = _metadata_writer()
    buf = bytearray(model)
    writer = metadata_writer.MetadataWriter.create(buf).add_general_info(name, "BlazePose (MediaPipe)")
    writer.add_image_input([mean], [std])
    for _ in writer_utils.get_output_tensor_types(buf):
        writer.add_feature_output()
    return bytes(writer.populate()[0])


def setup_mediapipe(variant: str = "full", wheel: Path | None = None, root: Path | None = None,
                    force: bool = False) -> Path:
    """Create the BlazePose ``.task`` bundle in the cache (once) and return its path.

    Args:
        variant: landmark model: ``full``, the one the ``mediapipe==0.10.21`` wheel holds (:data:`VARIANTS`).
        wheel: a local ``mediapipe-0.10.21-*.whl``; by default pip downloads it (no install) from the registry.
        root: cache root (default :func:`cache_dir`).
        force: rebuild even if the bundle exists.

    Raises:
        ValueError: another variant (``lite`` and ``heavy`` are in no registry package; said before downloading), or a
            wheel without the models (naming what it holds and what was expected).
    """
    if variant in UNAVAILABLE_VARIANTS:
        raise ValueError(f"the BlazePose {variant!r} landmark model cannot be set up here: the {WEIGHTS_WHEEL} wheel "
                         "(the newest Python package with BlazePose's models) holds only pose_landmark_full.tflite and "
                         "pose_detection.tflite, and no registry package ships the lite or heavy model; use "
                         "--variant full")
    if variant not in VARIANTS:
        raise ValueError(f"MediaPipe pose variant must be one of {VARIANTS}, got {variant!r}")
    out = bundle_path(variant, root)
    if out.exists() and not force:
        return out
    try:
        import mediapipe  # noqa: F401
    except ImportError as exc:
        raise ImportError("the MediaPipe backend needs the optional extra: pip install 'ppt-mocap[mediapipe]'") from exc
    with tempfile.TemporaryDirectory() as tmp:
        if wheel is None:
            log.info("downloading %s (weights only, not installed)", WEIGHTS_WHEEL)
            base = [sys.executable, "-m", "pip", "download", WEIGHTS_WHEEL, "--no-deps", "--only-binary=:all:",
                    "-d", tmp, "-q"]
            # The .tflite files are the same in every platform's wheel: fall back to a Linux/3.11 one when this
            # interpreter has no 0.10.21 wheel.
            for extra in ([], ["--python-version", "3.11", "--platform", "manylinux_2_28_x86_64"]):
                done = subprocess.run(base + extra, capture_output=True, text=True)
                wheels = sorted(Path(tmp).glob("mediapipe-*.whl"))
                if wheels:
                    break
            if done.returncode != 0 or not wheels:
                raise RuntimeError(f"could not download {WEIGHTS_WHEEL} with pip: {done.stderr.strip()[-400:]}")
            wheel = wheels[0]
        wheel = Path(wheel)
        if not wheel.is_file():
            raise FileNotFoundError(f"MediaPipe wheel not found: {wheel}")
        members = {"detector": "mediapipe/modules/pose_detection/pose_detection.tflite",
                   "landmarks": f"mediapipe/modules/pose_landmark/pose_landmark_{variant}.tflite"}
        try:
            z = zipfile.ZipFile(wheel)
        except zipfile.BadZipFile:
            raise ValueError(f"{wheel} is not a wheel (not a zip archive); expected {WEIGHTS_WHEEL}'s .whl") from None
        with z:
            names = set(z.namelist())
            missing = [m for m in members.values() if m not in names]
            if missing:
                held = sorted(n.rsplit("/", 1)[-1] for n in names if n.endswith(".tflite") and "pose" in n)
                raise ValueError(f"{wheel.name} does not contain {missing} (its pose models: {held or 'none'}); "
                                 f"expected the {WEIGHTS_WHEEL} wheel, which holds pose_detection.tflite and "
                                 "pose_landmark_full.tflite")
            detector = z.read(members["detector"])
            landmarks = z.read(members["landmarks"])
    _, bundle_utils, _ = _metadata_writer()
    # BlazePose inputs: detector RGB in [-1, 1], landmark model RGB in [0, 1].
    models = {"pose_detector.tflite": _with_normalization(detector, 127.5, 127.5, "pose_detector"),
              "pose_landmarks_detector.tflite": _with_normalization(landmarks, 0.0, 255.0, "pose_landmarks_detector")}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_suffix(".task.tmp")
    bundle_utils.create_model_asset_bundle(models, str(tmp_out))
    tmp_out.replace(out)
    log.info("MediaPipe pose bundle written to %s", out)
    return out

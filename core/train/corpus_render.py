"""A rendered training corpus: synchronised multi-view person crops of the virtual studio, stored in shards.

Rendering a studio sample costs about 40 ms per view on one core, as much as a training step of the demo model
per crop; rendering once and training many epochs from disk leaves the cores to the model
(``ppt-mocap bench train`` measures both). One corpus serves single-view pretraining (one view of a sample per
item) and multi-view fine-tuning (all views of a sample, with their cameras for the 3D positional encoding).

Folder layout::

    CORPUS/
      corpus.json           format version, the CorpusSpec, joint names, shards written
      shard_00000.npz ...   ``shard_size`` samples each, written atomically (a killed run loses at most a shard)

Each stored crop is square, ``crop_size`` pixels, centred on the subject's joint box and covering ``margin``
times the padded (x1.25) box, so that scale, shift and rotation augmentation still find image content when a
model crop is cut from it at load time. Per view a shard holds the JPEG bytes, the affine original image ->
stored crop ``(2, 3)``, the camera (``K``, ``R``, ``t``, ``dist``, image size) and the subject's joints in
stored-crop pixels with their visibility; per sample the 3D joints (world metres). Joints are the studio
actor's full set (:data:`core.studio.body.STUDIO_JOINTS`), mapped to a model's skeleton when loaded.

Samples are a function of ``(seed, index)``: rendering the missing shards of a folder continues it exactly
(``render_corpus`` is resumable and runs shards in parallel processes).
"""

from __future__ import annotations

import json
import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from core.inference.preprocess import apply_affine, box_to_center_scale, crop_affine, warp_crop
from core.studio.body import STUDIO_JOINTS
from core.studio.motion import MOTIONS
from core.studio.scene import check_distractor_distance

log = logging.getLogger(__name__)

CORPUS_VERSION = 1
MANIFEST = "corpus.json"


@dataclass(frozen=True)
class CorpusSpec:
    """What a corpus holds. ``samples``: frame groups of ``views`` cameras each (``samples * views`` crops)."""

    samples: int = 2048
    views: int = 4
    seed: int = 0
    crop_size: int = 192
    margin: float = 1.5
    padding: float = 1.25
    shard_size: int = 64
    quality: int = 90
    render_size: tuple[int, int] = (640, 480)
    people: tuple[int, int] = (1, 2)
    reuse: int = 8
    motion: str = "mix"
    #: ``(min, max)`` metres from the subject's start to each other person's; ``None``: 1.1 +- 0.2 m per axis.
    distractor_distance: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.samples < 1 or self.views < 1 or self.shard_size < 1:
            raise ValueError(f"corpus needs samples, views and shard_size >= 1, got {self.samples}, {self.views}, "
                             f"{self.shard_size}")
        if self.crop_size < 32:
            raise ValueError(f"crop_size must be at least 32 px, got {self.crop_size}")
        if not 1.0 <= self.margin <= 3.0:
            raise ValueError(f"margin must be in [1, 3] (stored crop / padded box), got {self.margin}")
        check_distractor_distance(self.distractor_distance)  # before a manifest is written, not in the renderer
        if self.motion not in MOTIONS and not str(self.motion).lower().endswith(".trc"):
            raise ValueError(f"motion must be one of {', '.join(MOTIONS)} or a .trc path, got {self.motion!r}")

    @property
    def shards(self) -> int:
        return -(-self.samples // self.shard_size)

    def shard_range(self, shard: int) -> range:
        return range(shard * self.shard_size, min((shard + 1) * self.shard_size, self.samples))

    @classmethod
    def from_dict(cls, raw: dict) -> "CorpusSpec":
        raw = dict(raw)
        for key in ("render_size", "people", "distractor_distance"):
            if raw.get(key) is not None:
                raw[key] = tuple(raw[key])
        return cls(**raw)


def shard_path(folder: Path, shard: int) -> Path:
    return Path(folder) / f"shard_{shard:05d}.npz"


def _subject_crop(joints: np.ndarray, image_size: tuple[int, int], spec: CorpusSpec) -> np.ndarray:
    """Affine ``(2, 3)`` original -> stored crop: square around the joints' box (``(J, 2)`` px, NaN = missing)."""
    good = np.isfinite(joints).all(1)
    if good.sum() >= 2:
        lo, hi = joints[good].min(0), joints[good].max(0)
    else:  # nothing projects: keep the image centre (the view is stored, its joints carry weight 0)
        lo, hi = np.zeros(2), np.asarray(image_size, dtype=np.float64) - 1
    box = np.array([lo[0], lo[1], max(hi[0] - lo[0], 2.0), max(hi[1] - lo[1], 2.0)])
    center, scale = box_to_center_scale(box[None], 1.0, padding=spec.padding * spec.margin, convention="hrnet")
    return crop_affine(center[0], scale[0], (spec.crop_size, spec.crop_size), 0.0, convention="hrnet")


#: Public name of the stored-crop rule, for other writers of corpus-layout crops (``core.finetune.labels``).
subject_crop = _subject_crop


def render_shard(folder: Path, spec: CorpusSpec, shard: int) -> Path:
    """Render shard ``shard`` of the corpus into ``folder`` (atomic write); returns its path."""
    from core.train.studio_crops import StudioMultiView  # imports PyTorch: only the renderer needs it

    cv2.setNumThreads(1)
    studio = StudioMultiView(spec.samples, spec.views, seed=spec.seed, reuse=spec.reuse,
                             render_size=spec.render_size, motion=spec.motion, people=spec.people,
                             distractor_distance=spec.distractor_distance)
    jpeg, offsets = [], [0]
    arrays: dict[str, list] = {k: [] for k in ("joints", "visible", "affine", "K", "R", "t", "dist", "image_size",
                                              "joints_3d", "index")}
    encode = [int(cv2.IMWRITE_JPEG_QUALITY), int(spec.quality)]
    for index in spec.shard_range(shard):
        views = studio.render_views(index)
        per_view = {k: [] for k in ("joints", "visible", "affine", "K", "R", "t", "dist", "image_size")}
        for v, cam in enumerate(views["cameras"]):
            j2d = views["joints_2d"][v]
            affine = _subject_crop(j2d, cam.size, spec)
            crop = warp_crop(views["images"][v], affine, (spec.crop_size, spec.crop_size))
            ok, buf = cv2.imencode(".jpg", crop, encode)
            if not ok:
                raise RuntimeError(f"JPEG encoding failed for sample {index} view {v}")
            jpeg.append(buf.reshape(-1))
            offsets.append(offsets[-1] + buf.size)
            per_view["joints"].append(apply_affine(affine, j2d).astype(np.float32))
            per_view["visible"].append(views["visible"][v].astype(bool))
            per_view["affine"].append(affine)
            per_view["K"].append(cam.K)
            per_view["R"].append(cam.R)
            per_view["t"].append(cam.t)
            per_view["dist"].append(np.resize(np.asarray(cam.dist, dtype=np.float64), 5))
            per_view["image_size"].append(np.asarray(cam.size))
        for k, vals in per_view.items():
            arrays[k].append(np.stack(vals))
        arrays["joints_3d"].append(views["joints_3d"].astype(np.float32))
        arrays["index"].append(index)
    out = shard_path(folder, shard)
    tmp = out.with_name(out.stem + ".tmp.npz")
    np.savez(tmp, jpeg=np.concatenate(jpeg), offsets=np.asarray(offsets, dtype=np.int64),
             **{k: np.stack(v) for k, v in arrays.items()})
    os.replace(tmp, out)
    return out


def _write_manifest(folder: Path, spec: CorpusSpec, done: int) -> None:
    manifest = {"format": "ppt-mocap corpus", "version": CORPUS_VERSION, "spec": asdict(spec),
                "joint_names": list(STUDIO_JOINTS), "shards_written": done, "shards": spec.shards}
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, folder / MANIFEST)


def read_spec(folder: Path) -> CorpusSpec:
    """The :class:`CorpusSpec` of an existing corpus folder (``FileNotFoundError`` / ``ValueError`` if it is not)."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{folder} is not a corpus folder: {MANIFEST} not found "
                                f"(make one with 'ppt-mocap studio corpus --out {folder}')")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != "ppt-mocap corpus" or manifest.get("version") != CORPUS_VERSION:
        raise ValueError(f"{path}: not a ppt-mocap corpus of version {CORPUS_VERSION} "
                         f"(format {manifest.get('format')!r}, version {manifest.get('version')!r})")
    return CorpusSpec.from_dict(manifest["spec"])


def render_corpus(folder, spec: CorpusSpec, workers: int = 1, progress=None) -> int:
    """Render every missing shard of ``spec`` into ``folder`` with ``workers`` processes; returns shards written.

    An existing folder must hold the same spec except ``samples`` (a corpus can be grown); shards already on
    disk are kept. ``progress(done, total)`` is called after each shard.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / MANIFEST).exists():
        old = read_spec(folder)
        if asdict(old) | {"samples": spec.samples} != asdict(spec):
            raise ValueError(f"{folder} holds a corpus with another spec ({asdict(old)}); use another folder or "
                             f"the same options (only the sample count may grow)")
        if spec.samples < old.samples:
            raise ValueError(f"{folder} holds {old.samples} samples; a corpus can grow but not shrink "
                             f"(asked for {spec.samples})")
        if old.samples % old.shard_size and spec.samples > old.samples:  # its short last shard is re-rendered
            shard_path(folder, old.shards - 1).unlink(missing_ok=True)
    todo = [s for s in range(spec.shards) if not shard_path(folder, s).exists()]
    done = spec.shards - len(todo)
    _write_manifest(folder, spec, done)
    log.info("corpus %s: %d of %d shards present, rendering %d with %d process(es)", folder, done, spec.shards,
             len(todo), workers)
    started = time.monotonic()
    if workers <= 1:
        for s in todo:
            render_shard(folder, spec, s)
            done += 1
            _write_manifest(folder, spec, done)
            if progress:
                progress(done, spec.shards)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(render_shard, folder, spec, s) for s in todo]
            for f in as_completed(futures):
                f.result()
                done += 1
                _write_manifest(folder, spec, done)
                if progress:
                    progress(done, spec.shards)
    log.info("corpus %s: %d shards in %.1f min", folder, len(todo), (time.monotonic() - started) / 60)
    return len(todo)


@dataclass
class Corpus:
    """All shards of a corpus folder in memory (JPEG bytes, about 12 kB per crop).

    Arrays are indexed by sample ``s`` and view ``v``: ``joints (S, V, J, 2)`` stored-crop px (studio joints),
    ``visible (S, V, J)``, ``affine (S, V, 2, 3)`` original -> stored crop, ``K (S, V, 3, 3)``, ``R``, ``t``,
    ``dist (S, V, 5)``, ``image_size (S, V, 2)`` (W, H), ``joints_3d (S, J, 3)`` world metres.
    """

    folder: Path
    spec: CorpusSpec
    jpeg: np.ndarray
    offsets: np.ndarray
    arrays: dict = field(default_factory=dict)

    @classmethod
    def load(cls, folder, max_samples: int = 0) -> "Corpus":
        folder = Path(folder)
        spec = read_spec(folder)
        shards = sorted(folder.glob("shard_*.npz"))
        shards = [p for p in shards if not p.name.endswith(".tmp.npz")]
        if not shards:
            raise FileNotFoundError(f"corpus {folder} has no shards yet (render them with 'ppt-mocap studio corpus')")
        jpeg, offsets, arrays, base = [], [], {}, 0
        total = 0
        for p in shards:
            with np.load(p) as z:
                jpeg.append(z["jpeg"])
                offsets.append(z["offsets"][:-1] + base)
                base += int(z["offsets"][-1])
                for k in z.files:
                    if k not in ("jpeg", "offsets"):
                        arrays.setdefault(k, []).append(z[k])
                total += len(z["index"])
            if max_samples and total >= max_samples:
                break
        arrays = {k: np.concatenate(v) for k, v in arrays.items()}
        offsets.append(np.array([base], dtype=np.int64))
        corpus = cls(folder, spec, np.concatenate(jpeg), np.concatenate(offsets), arrays)
        if max_samples:
            corpus = corpus.head(max_samples)
        return corpus

    def head(self, n: int) -> "Corpus":
        """The first ``n`` samples (by position in the shards)."""
        if n >= len(self):
            return self
        views = self.spec.views
        return Corpus(self.folder, self.spec, self.jpeg, self.offsets[: n * views + 1],
                      {k: v[:n] for k, v in self.arrays.items()})

    def __len__(self) -> int:
        return len(self.arrays["index"])

    @property
    def views(self) -> int:
        return self.spec.views

    def crop(self, sample: int, view: int) -> np.ndarray:
        """The stored crop ``(crop_size, crop_size, 3)`` uint8 BGR of one view of one sample."""
        k = sample * self.views + view
        buf = self.jpeg[self.offsets[k]:self.offsets[k + 1]]
        image = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"corpus {self.folder}: crop {view} of sample {sample} is not a readable JPEG")
        return image

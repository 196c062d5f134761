"""Teach the model a studio: multi-view bootstrapped labels from a user's recordings, and fine-tuning on them.

* :mod:`core.finetune.labels`: a teacher's 2D in every view (MediaPipe, or a result set already in the session),
  triangulated robustly, unreliable frames rejected, projected back into every view with visibility, stored with
  crops in ``SESSION/labels/<name>/`` (``ppt-mocap finetune label``).
* :mod:`core.finetune.dataset`: the ``session-labels`` dataset kind of the trainer (items cut exactly as the
  corpus dataset cuts them), split by time into training and held-out frames.
* :mod:`core.finetune.evaluate`: held-out 2D and 3D figures against the labels.
* :mod:`core.finetune.run`: the fine-tuning run (``ppt-mocap finetune train``): config, trainer, progress,
  resume, weights file with the sessions, teacher and figures in its metadata.

See ``docs/FINETUNE.md``.
"""

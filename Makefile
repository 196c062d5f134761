# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test install bench clean train-gpu system-deps

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The dev extra pins the CPU torch build; a bare install would pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# System libraries for headless Qt and Open3D (.ci/debian-packages): installed when possible (root or sudo without
# a password), else the one command to run is printed. PPT_SKIP_SYSTEM_DEPS=1 skips the check.
system-deps:
	@.ci/system-deps

demo: system-deps $(STAMP)
	$(VENV)/bin/ppt-mocap demo

test: system-deps $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

bench: $(STAMP)
	$(VENV)/bin/ppt-mocap bench triangulation

# The demo weights on one NVIDIA GPU (about 10 minutes after the corpus; install a CUDA torch into .venv first).
train-gpu: $(STAMP)
	$(VENV)/bin/ppt-mocap studio corpus --out runs/corpus/studio_train --samples 24576 --workers 8
	$(VENV)/bin/ppt-mocap studio corpus --out runs/corpus/studio_near --samples 8192 --seed 7 --people 2 2 --distractor-distance 0.4 0.9 --workers 8
	$(VENV)/bin/ppt-mocap studio corpus --out runs/corpus/studio_val --samples 256 --seed 900001
	$(VENV)/bin/ppt-mocap train --config configs/demo_gpu.toml --export runs/demo_gpu_single_view/weights.pth
	$(VENV)/bin/ppt-mocap train --config configs/demo_gpu_multiview.toml --export assets/weights/multiview_ppt_demo.pth

clean:
	rm -rf $(VENV) .pytest_cache out

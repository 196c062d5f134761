"""The app on a real X server (Xvfb, the xcb platform) as on a desktop: a subprocess, like a user's launch."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest


def test_gui_screenshot_under_xvfb(tmp_path):
    if shutil.which("xvfb-run") is None:
        if os.environ.get("CI"):
            pytest.fail("xvfb-run is missing: .ci/run installs the xvfb package")
        pytest.skip("xvfb-run not installed (apt-get install xvfb xauth)")
    shot = tmp_path / "xvfb.png"
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1600x900x24", sys.executable, "-m", "app.cli", "gui",
         "--studio", "stereo2", "--backend", "studio-truth", "--screenshot", str(shot), "--after", "3"],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "screenshot saved" in proc.stdout
    import cv2

    pixels = cv2.imread(str(shot))
    assert pixels is not None and pixels.shape[1] > 800 and pixels.shape[0] > 500
    assert pixels.std() > 10  # a drawn window, not a blank one

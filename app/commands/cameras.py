"""``ppt-mocap cameras``: list the USB cameras found on this machine (and optionally test a stream URL)."""

from __future__ import annotations

import argparse
import json
import time


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("cameras", help="list cameras (USB devices) and test stream URLs",
                              description="List the USB/UVC cameras OpenCV can open, with their default mode. "
                              "Use the device index or path as a --source of `ppt-mocap run`.")
    p.add_argument("--max-index", type=int, default=10, help="indices to probe where /dev/video* is not available")
    p.add_argument("--probe", metavar="URL", action="append", default=[],
                   help="also open a stream URL (rtsp://, http://...mjpg) and report its first frame")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.capture.sources import SourceError, URLSource, list_cameras

    cams = list_cameras(args.max_index)
    probes = []
    for url in args.probe:
        src = URLSource("probe", url, timeout_s=5)
        t0 = time.perf_counter()
        try:
            src.open()
            got = src.read()
            ok = got is not None
            probes.append({"url": url, "ok": ok, "size": list(got[0].shape[1::-1]) if ok else None,
                           "open_s": round(time.perf_counter() - t0, 3), "error": None if ok else "no frame"})
        except SourceError as exc:
            probes.append({"url": url, "ok": False, "size": None, "error": str(exc)})
        finally:
            src.close()
    if args.json:
        print(json.dumps({"cameras": cams, "probes": probes}))
        return 0
    if not cams:
        print("no USB cameras found (none connected, or no permission for /dev/video*)")
    for c in cams:
        print(f"{c['device']:>3}  {c['path']:<14} {c['name']:<32} {c['width']}x{c['height']} @ {c['fps']:.0f} fps")
    for p in probes:
        status = f"ok, {p['size'][0]}x{p['size'][1]}" if p["ok"] else f"FAILED: {p['error']}"
        print(f"stream {p['url']}: {status}")
    return 0 if all(p["ok"] for p in probes) else 1

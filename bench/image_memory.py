"""Benchmark of the image step's memory: peak RSS growth of one four-image check.

Run (about 20 s):  .venv/bin/python bench/image_memory.py [--port 0] [--json FILE]

The finding it reproduces (issue 13, item 3): one ``extract/`` request whose four
``image_urls`` point at a 4.9 KB PNG of 6300 x 6300 pixels (1 bit per pixel, so it compresses
to almost nothing) raised the process's peak memory by ~540 MB.

How it measures, so that one figure is comparable across runs and code versions:

* The PNGs are made here with Pillow and served by a loopback HTTP server in THIS process;
  the image step runs in a fresh SUBPROCESS (``--child``), whose peak RSS
  (``ru_maxrss``) is all the measurement looks at.
* The child loads the tests' tiny CLIP (random weights, through the production loader) and
  runs the extraction's image step, :func:`mlverify.clip.service.best_image`, exactly as
  ``extract/`` calls it (passing the user id as the fetch owner when the code accepts one).
* Baseline, in the same child, first: the same four-image request with small (48 px) images,
  so model load, torch and the HTTP client are already paid for. Then the scenario; growth is
  ``peak after - peak after baseline``. ``held`` is the resident size (VmRSS) afterwards.

Scenarios (each in its own child): ``bomb`` (the finding: 4 x 6300x6300), ``bomb_x3`` (three
such requests at once, the finding's second figure), ``at_cap`` (4 x 4000x4000, the largest
image the check accepts, 16 megapixels) and ``at_cap_x4`` (four such requests at once, as a
gthread worker's four threads can run them). Goal: ``bomb`` growth < 150 MB.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buyhive.settings.test")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

GOAL_MB = 150.0
RESULT_MARK = "IMAGE_MEMORY_RESULT "  # the child's result line (its logs share stdout)
SCENARIOS = {
    # name: (side in pixels, concurrent requests)
    "bomb": (6300, 1),
    "bomb_x3": (6300, 3),
    "at_cap": (4000, 1),
    # four at once, as one gthread worker with GUNICORN_THREADS=4 can be asked
    "at_cap_x4": (4000, 4),
}


def one_bit_png(side: int) -> bytes:
    """A black ``side`` x ``side`` PNG at 1 bit per pixel (6300 px: ~4.9 KB), as the tests'."""
    from mlverify.tests.tiny_clip import bomb_png

    return bomb_png(side, side)


def small_png(color: tuple[int, int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (48, 48), color).save(out, format="PNG")
    return out.getvalue()


def serve(routes: dict[str, bytes], port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = routes.get(self.path.split("?", 1)[0])
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


# ------------------------------------------------------------------------------------ child


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _current_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def child(base_url: str, scenario: str) -> dict[str, Any]:
    import inspect

    import django

    django.setup()
    from django.conf import settings

    from mlverify.clip import service
    from mlverify.registry import get_clip_model, reset_models
    from mlverify.tests.tiny_clip import build_tiny_clip

    tiny = build_tiny_clip(Path(tempfile.mkdtemp(prefix="bench-clip-")))
    settings.CLIP_MODEL = tiny.model_name
    settings.CLIP_WEIGHTS = tiny.weights
    settings.CLIP_CALIBRATION_FILE = Path(tempfile.mkdtemp()) / "calibration.json"
    settings.OUTBOUND_HTTP_ALLOW_LOOPBACK = True
    reset_models()
    get_clip_model().get()
    takes_owner = "owner" in inspect.signature(service.best_image).parameters
    run_id = f"{os.getpid()}-{time.time_ns()}"

    def step(prefix: str, tag: str) -> str:
        urls = [f"{base_url}/{prefix}{i}.png?r={run_id}-{tag}" for i in range(4)]
        kwargs: dict[str, Any] = {"owner": f"bench-{tag}"} if takes_owner else {}
        try:
            best, check = service.best_image(candidates=urls, product_name="white square", **kwargs)
        except Exception as exc:  # noqa: BLE001 - the outcome is reported, not raised
            return f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"[:160]
        return f"{check.status} best={best and best.rsplit('/', 1)[-1].split('?')[0]}"

    baseline_outcome = step("small", "baseline")
    baseline = _peak_mb()
    side, concurrent = SCENARIOS[scenario]
    outcomes: list[str] = []
    started = time.perf_counter()
    threads = [
        threading.Thread(target=lambda n=n: outcomes.append(step(f"big{side}-", f"s{n}")))
        for n in range(concurrent)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    peak = _peak_mb()
    return {
        "scenario": scenario,
        "baseline_outcome": baseline_outcome,
        "outcomes": outcomes,
        "baseline_peak_mb": round(baseline, 1),
        "peak_mb": round(peak, 1),
        "growth_mb": round(peak - baseline, 1),
        "held_after_mb": round(_current_mb(), 1),
        "seconds": round(seconds, 2),
    }


# ----------------------------------------------------------------------------------- parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--port", type=int, default=0, help="loopback port of the image server")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), action="append")
    parser.add_argument(
        "--child", nargs=2, metavar=("BASE_URL", "SCENARIO"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        print(RESULT_MARK + json.dumps(child(*args.child)))
        return

    routes: dict[str, bytes] = {}
    for i, color in enumerate([(250, 250, 250), (200, 30, 30), (30, 200, 30), (30, 30, 200)]):
        routes[f"/small{i}.png"] = small_png(color)
    sizes: dict[int, int] = {}
    for side in sorted({s for s, _ in SCENARIOS.values()}):
        body = one_bit_png(side)
        sizes[side] = len(body)
        for i in range(4):
            routes[f"/big{side}-{i}.png"] = body
    httpd = serve(routes, args.port)
    base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    print("PNG sizes: " + ", ".join(f"{s}x{s}: {n / 1024:.1f} KB" for s, n in sizes.items()))

    results = []
    for scenario in args.scenario or list(SCENARIOS):
        proc = subprocess.run(
            [sys.executable, __file__, "--child", base_url, scenario],
            capture_output=True,
            text=True,
            check=False,
            cwd=REPO,
        )
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"{scenario}: child failed ({proc.returncode})")
        line = next(x for x in proc.stdout.splitlines() if x.startswith(RESULT_MARK))
        result = json.loads(line.removeprefix(RESULT_MARK))
        results.append(result)
        print(
            f"{scenario:8} growth {result['growth_mb']:7.1f} MB  (baseline peak "
            f"{result['baseline_peak_mb']} MB, peak {result['peak_mb']} MB, held after "
            f"{result['held_after_mb']} MB, {result['seconds']} s)  {result['outcomes']}"
        )
    httpd.shutdown()
    bomb = next((r for r in results if r["scenario"] == "bomb"), None)
    if bomb is not None:
        verdict = "OK" if bomb["growth_mb"] < GOAL_MB else "OVER"
        print(f"goal: bomb growth < {GOAL_MB:.0f} MB -> {verdict}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

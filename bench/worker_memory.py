"""A gthread web worker with both models on ONNX Runtime: peak RSS and image-check latency, the
checks one at a time against four at once (``GUNICORN_THREADS``), alternated in one run with a
second axis (issue 16):

* ``--compare export`` (default): the full export (every variant, as ``export_onnx`` writes by
  default) against the one the image ships (a copy after
  :func:`mlverify.onnx_export.drop_unserved`, ``export_onnx --served-only``);
* ``--compare malloc``: the shipped export with glibc's default malloc against a fixed mmap
  threshold (``MALLOC_MMAP_THRESHOLD_``, 128 KB and 1 MB) and against two malloc arenas
  (``MALLOC_ARENA_MAX=2``). glibc raises its threshold to the size of each mmapped block it
  frees (up to 32 MB), after which a decode's multi-MB rasters come from the threads' heaps
  and stay reserved there once freed; a fixed threshold keeps them mmapped, returned to the
  system on free. (Measured before decodes moved to threads of their own.)
* ``--compare decode``: this tree, which decodes on ``CLIP_MAX_CONCURRENT_DECODES`` threads
  of their own (:class:`mlverify.clip.images.DecodeThreads`) and converts a mode ``reduce``
  cannot take a strip at a time, with 2 decode threads and with 1, against the
  tree ``--before`` (a ``git archive`` of that commit, run by the same interpreter), which
  decoded on the request thread that asked (at most 2 at once) and converted whole rasters,
  alone and with ``MALLOC_ARENA_MAX=2``. The before tree serves the export as it was written
  before too: CLIP's int8 image tower with its patch convolution in int8 (ConvInteger).

Run (about 6 minutes):  .venv/bin/python bench/worker_memory.py
    [--compare export|malloc|decode] [--before REV] [--images photos|at-cap|at-cap-rgb]
    [--only VARIANT ...] [--threads 1 4] [--rounds 4] [--checks 40] [--json FILE]

The models are bench/serving.py's: CLIP ViT-B-32 with random weights (its memory and latency
are the architecture's) and the real MiniLM, exported by the production exporter.

Each measurement is a fresh process shaped like a gthread worker (``buyhive.wsgi`` imported, both
models warmed as ``post_worker_init`` does), pinned to one core while a busy loop holds the
other, which answers ``--checks`` image checks (``verify_image`` end to end: fetch from a
loopback server, decode, encode the image and a new product name, score; nothing cached) of
800 px JPEGs (``photos``) or of 4000 x 4000 PNGs (``at-cap``: the largest image a check takes,
1 bit a pixel; ``at-cap-rgb``: the same in RGB, a raster four times larger once decoded):

* ``threads=1``: one after another (the p95 goal's setting, <= 80 ms);
* ``threads=4``: submitted to a pool of 4 threads at once, as a gthread worker with
  ``GUNICORN_THREADS=4`` runs four requests; the models still run on the one inference thread
  (mlverify.inference), so a check's time includes its wait for that thread.

Reported per setting: peak RSS (VmHWM, goal <= 600 MB; also right after the warm-up), the
check's p50/p95, the process's CPU time per check (which other load on the machine does not
inflate) and checks/s, as medians over the rounds with their range. The settings run in a
rotated order each round, so a change in the machine's load falls on all of them; the load
average is printed. Compare the ratios of one run, not figures across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402 - after the path; puts the repository on sys.path
from serving import CHILD_COMMON, _busy, _child, export_models  # noqa: E402

WORKER = (
    CHILD_COMMON
    + """
from concurrent.futures import ThreadPoolExecutor
from mlverify import warmup
from mlverify.clip.service import verify_image
outcomes = warmup.warm_models(["clip", "page_classifier"])
assert all(v.startswith("loaded") for v in outcomes.values()), outcomes
warm_rss = peak_rss_mb()
n, threads = int(sys.argv[1]), int(sys.argv[2])
if sys.argv[3] == "at-cap":  # the largest image the check takes: 16 megapixels (a 2 KB PNG)
    from mlverify.tests.tiny_clip import bomb_png
    IMAGES.update({f"/img/{i}.jpg": bomb_png(4000, 4000) for i in range(8)})
elif sys.argv[3] == "at-cap-rgb":  # 16 megapixels of RGB, 4 bytes a pixel decoded (~60 KB)
    from PIL import Image
    def rgb_png(i):
        out = io.BytesIO()
        Image.new("RGB", (4000, 4000), (40 * i, 90, 30)).save(out, format="PNG")
        return out.getvalue()
    IMAGES.update({f"/img/{i}.jpg": rgb_png(i) for i in range(8)})
def check(i):
    url = f"{BASE}/img/{i % 8}.jpg?{TAG}-{i}"
    t = time.perf_counter()
    result = verify_image(image_url=url, product_name=f"solid oak dining table {TAG} {i}")
    assert result.status == "ok", result
    return (time.perf_counter() - t) * 1000
started, cpu = time.perf_counter(), time.process_time()
if threads == 1:
    samples = [check(i) for i in range(n)]
else:
    with ThreadPoolExecutor(threads) as pool:
        samples = list(pool.map(check, range(n)))
wall, cpu = time.perf_counter() - started, time.process_time() - cpu
from mlverify import registry
bundle = registry.model_holders()["clip"].get()
print("RESULT", json.dumps({"samples_ms": samples, "peak_rss_mb": peak_rss_mb(),
    "warm_peak_rss_mb": warm_rss, "checks_per_s": round(n / wall, 2),
    "cpu_ms_per_check": round(cpu * 1000 / n, 1),
    "clip": bundle.label, "torch_imported": "torch" in sys.modules}))
"""
)


def _export_as_before(tmp: Path) -> str:
    """``tmp/before``: the served export with CLIP's int8 image tower quantised as the exporter
    did before (quantize_dynamic's default operators, the patch convolution in int8 too)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from mlverify.onnx_runtime import onnx_dir, sha256_file

    shutil.copytree(tmp / "served", tmp / "before")
    root = onnx_dir(tmp / "before")
    manifest = json.loads((root / "manifest.json").read_text())
    entry = manifest["models"]["clip_image"]["files"]["int8"]
    tower = root / entry["path"]
    tower.unlink()
    quantize_dynamic(
        str(onnx_dir(tmp / "full") / "clip" / "image.onnx"),
        str(tower),
        weight_type=QuantType.QInt8,
        per_channel=True,
        reduce_range=True,
    )
    entry["sha256"] = sha256_file(tower)
    (root / "manifest.json").write_text(json.dumps(manifest))
    return f"{entry['path']}: {tower.stat().st_size / 1e6:.1f} MB, Conv in int8"


def _median_range(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} [{min(values):.1f}-{max(values):.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--checks", type=int, default=40, help="image checks per process")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--compare",
        choices=["export", "malloc", "decode"],
        default="export",
        help=(
            "export: the full export against the served-only one; malloc: the served-only "
            "export with glibc's default malloc against a fixed MALLOC_MMAP_THRESHOLD_ "
            "(128 KB, 1 MB) and against MALLOC_ARENA_MAX=2; decode: this tree with 2 and 1 "
            "decode threads against the tree --before, alone and with MALLOC_ARENA_MAX=2"
        ),
    )
    parser.add_argument(
        "--before",
        default="b3407d9",
        help="--compare decode: the commit to compare with (default: the last one that "
        "decoded on the request threads)",
    )
    parser.add_argument(
        "--images",
        choices=["photos", "at-cap", "at-cap-rgb"],
        default="photos",
        help=(
            "photos: 800 px JPEGs; at-cap: 4000 x 4000 1-bit PNGs, the largest image a check "
            "takes; at-cap-rgb: the same size in RGB (4 bytes a pixel once decoded)"
        ),
    )
    parser.add_argument(
        "--only", nargs="+", default=None, help="run only these variants (labels as printed)"
    )
    parser.add_argument(
        "--threads", nargs="+", type=int, default=[1, 4], help="request threads (default 1 4)"
    )
    args = parser.parse_args()

    import django

    django.setup()
    from mlverify import onnx_export, onnx_runtime

    tmp = Path(tempfile.mkdtemp(prefix="bench-worker-memory-"))
    weights, report = export_models(tmp / "full")
    shutil.copytree(tmp / "full" / "onnx", tmp / "served" / "onnx")
    report["dropped"] = onnx_export.drop_unserved(onnx_runtime.onnx_dir(tmp / "served"))
    report["export_mb"] = {
        name: round(
            sum(p.stat().st_size for p in (tmp / name / "onnx").rglob("*") if p.is_file()) / 1e6,
            1,
        )
        for name in ("full", "served")
    }
    report["onnx_files_mb"] = {
        name: {
            p.relative_to(tmp / name / "onnx").as_posix(): round(p.stat().st_size / 1e6, 1)
            for p in sorted((tmp / name / "onnx").rglob("*.onnx"))
        }
        for name in ("full", "served")
    }
    print(json.dumps({k: report[k] for k in ("served", "dropped", "export_mb")}))

    cores = sorted(os.sched_getaffinity(0))
    work_core, busy_core = cores[0], cores[-1]
    env = {
        **os.environ,
        "MODEL_RUNTIME": "onnx",
        "CLIP_MODEL": "ViT-B-32",
        "CLIP_WEIGHTS": str(weights),
        "CLIP_CALIBRATION_FILE": str(tmp / "calibration.json"),
        "ML_NUM_THREADS": "1",
        "ML_INFERENCE_TIMEOUT": "120",  # the bench wants every check's time, not a timeout
    }
    # (label, model folder, extra environment); each in threads=1 and threads=4
    choices: dict[str, list[tuple[str, str, dict[str, str]]]] = {
        "export": [("full", "full", {}), ("served", "served", {})],
        "malloc": [
            ("malloc-default", "served", {}),
            ("mmap-128k", "served", {"MALLOC_MMAP_THRESHOLD_": "131072"}),
            ("mmap-1m", "served", {"MALLOC_MMAP_THRESHOLD_": str(1 << 20)}),
            ("arena-max-2", "served", {"MALLOC_ARENA_MAX": "2"}),
        ],
        "decode": [
            ("decode-threads-2", "served", {"CLIP_MAX_CONCURRENT_DECODES": "2"}),
            ("decode-threads-1", "served", {"CLIP_MAX_CONCURRENT_DECODES": "1"}),
            ("before", "before", {"BENCH_TREE": "before"}),
            ("before-arena-2", "before", {"BENCH_TREE": "before", "MALLOC_ARENA_MAX": "2"}),
        ],
    }
    variants = [v for v in choices[args.compare] if args.only is None or v[0] in args.only]
    trees = {"this": benchlib.ROOT}
    if args.compare == "decode":
        report["before_export"] = _export_as_before(tmp)
        trees["before"] = tmp / "before-tree"
        trees["before"].mkdir()
        archive = subprocess.run(
            ["git", "-C", str(benchlib.ROOT), "archive", args.before],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(trees["before"])], input=archive, check=True)
        report["before"] = args.before
    settings = [(v, threads) for threads in args.threads for v in variants]
    runs: dict[str, list[dict[str, Any]]] = {f"{v[0]}/threads={t}": [] for v, t in settings}
    report["load_average_before"] = [round(x, 2) for x in os.getloadavg()]
    busy = _busy(busy_core) if len(cores) > 1 else None
    try:
        for round_no in range(args.rounds):
            shift = round_no % len(settings)
            for (label, folder, extra), threads in settings[shift:] + settings[:shift]:
                result = _child(
                    WORKER,
                    [str(args.checks), str(threads), args.images],
                    {**env, "BUYHIVE_MODEL_DIR": str(tmp / folder), **extra},
                    core=work_core,
                    cwd=trees[extra.get("BENCH_TREE", "this")],
                )
                assert result["torch_imported"] is False, "the ONNX worker imported torch"
                result.update(benchlib.summarise(result.pop("samples_ms")))
                runs[f"{label}/threads={threads}"].append(result)
                print(
                    f"round {round_no + 1} {label:14} threads={threads}: peak RSS "
                    f"{result['peak_rss_mb']} MB (after warm-up {result['warm_peak_rss_mb']}), "
                    f"p50 {result['median_ms']} p95 {result['p95_ms']} ms, "
                    f"{result['cpu_ms_per_check']} ms CPU/check, {result['checks_per_s']} "
                    f"checks/s | load {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
    finally:
        if busy is not None:
            busy.terminate()
            busy.wait(timeout=10)
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    report["runs"] = runs
    summary = {}
    for name, results in runs.items():
        summary[name] = {
            key: _median_range([r[key] for r in results])
            for key in (
                "peak_rss_mb",
                "warm_peak_rss_mb",
                "median_ms",
                "p95_ms",
                "cpu_ms_per_check",
                "checks_per_s",
            )
        }
    report["summary"] = summary
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    print(f"served: {report['served']}; dropped by --served-only: {report['dropped']}")
    print(f"export size MB: {report['export_mb']}; files: {report['onnx_files_mb']}")
    print(f"CLIP served: {next(iter(runs.values()))[0]['clip']}")
    print("median [range] over rounds; peak RSS goal <= 600 MB, p95 goal (threads=1) <= 80 ms")
    for name, row in summary.items():
        print(f"  {name:24} " + ", ".join(f"{k} {v}" for k, v in row.items()))
    print(
        f"load average {report['load_average_before'][0]} -> {report['load_average_after'][0]}"
        f" (1-min), {report['load_average_after'][1]} (5-min)"
    )


if __name__ == "__main__":
    main()

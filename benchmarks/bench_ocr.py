"""OCR engines side by side (notebook 12): character error rate, pages per second, install size, and what a learner
must do to get the engine on each OS.

    .venv/bin/python benchmarks/bench_ocr.py               # every engine this machine has, 6 pages
    .venv/bin/python benchmarks/bench_ocr.py --pages 12

Pages: the prose of notebook 02 (``utils.rag.corpus``), 28 lines of at most 80 characters per page, drawn by
``utils.ocr.render_page`` (Pillow's own font at 20 px, grey noise sd 12, blur 0.6: a clean office scan), so the
true text is known. CER = Levenshtein distance / reference length over the whole page (white space runs count as
one space). pages/s: the median of the pages after a warm-up page (model loading excluded). Install size: the bytes
of the engine's files (pip: its package folders and their dependencies not already needed by the course; Debian:
``dpkg-query`` Installed-Size of the program, its libraries and language data).

An engine that is not installed is listed as missing (rapidocr is not in requirements.txt; to measure it:
``pip install --target /tmp/ocrpkgs rapidocr-onnxruntime==1.4.4`` and run with ``PYTHONPATH=/tmp/ocrpkgs``).
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import platform
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from utils import ocr
from utils.rag import corpus

from machine import describe  # this machine's CPU, flags, cores, versions and threads, printed before the table

PIP_PACKAGES = {"rapidocr": ("rapidocr_onnxruntime", "onnxruntime", "cv2", "opencv_python.libs", "shapely",
                             "shapely.libs", "pyclipper", "flatbuffers")}
DEBIAN_PACKAGES = {"tesseract": ("tesseract-ocr", "tesseract-ocr-eng", "tesseract-ocr-osd", "libtesseract5",
                                 "liblept5")}
OTHER_OS = {"rapidocr": "pip only (wheels for Windows, macOS, Linux)",
            "tesseract": "brew install tesseract / Windows installer + PATH"}


def pages(n: int) -> list[list[str]]:
    lines = [ln[:80] for page in corpus.layout_pages(corpus.notebook_markdown(corpus.PDF_SOURCE)) for ln in page
             if ln.strip()]
    return [lines[i * 28:(i + 1) * 28] for i in range(n) if lines[i * 28:(i + 1) * 28]]


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def install_mb(engine: str) -> str:
    if engine in PIP_PACKAGES:
        spec = importlib.util.find_spec(PIP_PACKAGES[engine][0])
        if spec is None or spec.origin is None:
            return "-"
        site = Path(spec.origin).parent.parent
        total = sum(folder_bytes(site / name) for name in PIP_PACKAGES[engine] if (site / name).exists())
        return f"{total / 1e6:.0f}"
    if shutil.which("dpkg-query"):
        out = subprocess.run(["dpkg-query", "-W", "-f=${Installed-Size}\n", *DEBIAN_PACKAGES[engine]],
                             capture_output=True, text=True).stdout.split()
        return f"{sum(int(k) for k in out if k.isdigit()) * 1024 / 1e6:.0f}" if out else "-"
    return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=6)
    args = parser.parse_args()
    print(describe())
    texts = pages(args.pages)
    images = [ocr.render_page(t, seed=i) for i, t in enumerate(texts)]
    status = ocr.engine_status()
    print(f"{datetime.date.today()} | CPython {platform.python_version()} | {platform.machine()} | "
          f"{len(texts)} pages of {images[0][0].size[0]} x {images[0][0].size[1]} px")
    print(f"{'engine':10} | {'CER':>6} | {'pages/s':>7} | {'install MB':>10} | {'other OS':48} | works offline")
    print("-" * 110)
    for engine in ocr.ENGINES:
        if status[engine] != "ok":
            print(f"{engine:10} | {'-':>6} | {'-':>7} | {'-':>10} | {OTHER_OS[engine]:48} | {status[engine][:60]}")
            continue
        ocr.read_lines(images[0][0], engine)                        # warm-up: load the models once
        cers, seconds = [], []
        for (page, boxes) in images:
            start = time.perf_counter()
            lines = ocr.read_lines(page, engine)
            seconds.append(time.perf_counter() - start)
            cers.append(ocr.char_error_rate(" ".join(t for t, _ in boxes), " ".join(ln.text for ln in lines)))
        print(f"{engine:10} | {statistics.mean(cers):6.3f} | {1 / statistics.median(seconds):7.2f} | "
              f"{install_mb(engine):>10} | {OTHER_OS[engine]:48} | yes (run under unshare -n)")


if __name__ == "__main__":
    main()

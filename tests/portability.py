"""Simulate other machines on this one: run every solution notebook under nbval strict with forced code paths.

A committed output must not depend on the CPU's instruction set, the number of threads or the BLAS/faiss/torch kernels
(a learner's laptop is not the machine the outputs were recorded on). Each *combination* forces

    FAISS_OPT_LEVEL      generic | avx2          faiss's SIMD code path, chosen at import time
    ATEN_CPU_CAPABILITY  default | avx2          torch's vectorised kernels (default = no SIMD)
    threads              1 | 2                   OMP_NUM_THREADS / MKL_NUM_THREADS (torch's intra-op threads)

and runs with a fresh, empty cache (``COURSE_CACHE_DIR``), so nothing trained under another combination is reused.

    python tests/portability.py                    # every combination (8), one after the other
    python tests/portability.py generic:default:1  # one combination, FAISS:ATEN:THREADS
    python tests/portability.py --rotate -- solutions notebooks   # one combination chosen by the day of the year
                                                                   # (what `make test` runs)
    python tests/portability.py --list

Extra arguments after ``--`` go to pytest (e.g. ``-- solutions/07_rag.ipynb``). Learner notebooks (``notebooks/``)
may be given too: they store no outputs, so strict nbval only checks that each of their cells runs. Exit code 0 only
when all pass.
"""
from __future__ import annotations

import argparse
import datetime
import itertools
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAISS_LEVELS = ("generic", "avx2")
ATEN_LEVELS = ("default", "avx2")
THREADS = ("1", "2")
ALL = [":".join(c) for c in itertools.product(FAISS_LEVELS, ATEN_LEVELS, THREADS)]


def parse(combo: str) -> dict[str, str]:
    """``"generic:default:1"`` -> the environment variables that force it."""
    parts = combo.split(":")
    if len(parts) != 3 or parts[0] not in FAISS_LEVELS or parts[1] not in ATEN_LEVELS or parts[2] not in THREADS:
        raise SystemExit(f"bad combination {combo!r}: expected FAISS:ATEN:THREADS, one of {', '.join(ALL)}")
    faiss, aten, threads = parts
    # oneDNN (torch's bf16 matmuls and attention) picks its own ISA: capped to AVX2 too, so that the simulated machine
    # is one that exists (a CPU with AMX but ATen forced below AVX-512 fails in oneDNN's packing: pack_vnni2)
    return {"FAISS_OPT_LEVEL": faiss, "ATEN_CPU_CAPABILITY": aten, "OMP_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads, "ONEDNN_MAX_CPU_ISA": "AVX2"}


def rotating() -> str:
    """One combination per day, so that successive CI runs cover the whole matrix."""
    return ALL[datetime.date.today().timetuple().tm_yday % len(ALL)]


def run(combo: str, pytest_args: list[str]) -> int:
    env = dict(os.environ, **parse(combo))
    with tempfile.TemporaryDirectory(prefix="course-cache-") as cache:
        env["COURSE_CACHE_DIR"] = cache
        cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--nbval", "--nbval-current-env",
               "--nbval-sanitize-with", "tests/nbval_sanitize.cfg", "--nbval-cell-timeout=600",
               *(pytest_args or ["solutions"])]
        print(f"== simulated machine {combo}: " + " ".join(f"{k}={v}" for k, v in parse(combo).items()), flush=True)
        return subprocess.call(cmd, cwd=ROOT, env=env)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("combos", nargs="*", help="FAISS:ATEN:THREADS (default: all)")
    parser.add_argument("--rotate", action="store_true", help="one combination chosen by the day of the year")
    parser.add_argument("--list", action="store_true", help="print the combinations and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(ALL))
        return 0
    combos = [rotating()] if args.rotate else (args.combos or ALL)
    for combo in combos:
        parse(combo)  # fail on a typo before running anything
    failed = [c for c in combos if run(c, extra) != 0]
    print(f"== {len(combos) - len(failed)} of {len(combos)} simulated machines passed"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

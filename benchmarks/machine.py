"""The machine a benchmark ran on, in two lines that every script in benchmarks/ prints before its table.

The same script gives very different ratios on an AVX2-only CPU and on one with AVX-512 or AMX: torch, faiss and
numpy pick their kernels from these flags, so a table is only comparable with another when both name them.
Scripts are run as ``python benchmarks/<script>.py``, which puts this folder first on ``sys.path`` whatever the
working folder: they import it as ``from machine import describe``.
"""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

# the flags that choose kernels. x86: AVX2/FMA, every AVX-512 subset, AMX, POPCNT (Hamming distances);
# Arm: NEON (asimd, asimddp, ...), SVE, BF16, int8 matrix multiply
FLAG_PREFIXES = ("avx2", "fma", "avx512", "amx", "popcnt", "asimd", "sve", "bf16", "i8mm")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
LIBRARIES = (("torch", "torch"), ("numpy", "numpy"), ("faiss", "faiss-cpu"))   # (module, distribution)


def relevant_flags(flags: set[str]) -> list[str]:
    """The flags among ``flags`` that decide torch/faiss/numpy kernels, sorted.

    >>> relevant_flags({"fpu", "sse2", "avx2", "fma", "avx512f", "avx512_bf16", "amx_tile", "popcnt", "ht"})
    ['amx_tile', 'avx2', 'avx512_bf16', 'avx512f', 'fma', 'popcnt']
    >>> relevant_flags({"fp", "asimd", "asimddp", "sve", "bf16", "aes"})
    ['asimd', 'asimddp', 'bf16', 'sve']
    """
    return sorted(f for f in flags if f.startswith(FLAG_PREFIXES))


def cpu_model(cpuinfo: str | None = None) -> str:
    """The CPU's name: the "model name" of ``cpuinfo`` (the text of /proc/cpuinfo; this machine's when None), else
    macOS's brand string, else ``platform.processor()`` or ``platform.machine()``.

    >>> cpu_model("processor : 0\\nmodel name : Example  CPU @ 2.00GHz\\nflags : fpu\\n")
    'Example CPU @ 2.00GHz'
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            cpuinfo = ""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("model name", "cpu model", "hardware") and value.strip():
            return " ".join(value.split())
    if platform.system() == "Darwin":
        try:
            brand = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                                   timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            brand = ""
        if brand:
            return brand
    return platform.processor() or platform.machine() or "unknown CPU"


def library_versions() -> str:
    """``torch 2.x, numpy 2.x, faiss 1.x`` for those installed (the loaded module's version when it is imported)."""
    found = []
    for module, distribution in LIBRARIES:
        version = getattr(sys.modules.get(module), "__version__", None)
        if version is None:
            try:
                version = metadata.version(distribution)
            except metadata.PackageNotFoundError:
                continue
        found.append(f"{module} {version}")
    return ", ".join(found) or "none of torch, numpy, faiss installed"


def thread_settings(threads: int | str | None = None) -> str:
    """The threads this run asked for (``threads``, when the script sets them), torch's and faiss's thread counts
    when they are loaded, and the thread variables of the environment (unset ones are left out)."""
    parts = [] if threads is None else [f"script: {threads};"]
    if "torch" in sys.modules:
        parts.append(f"torch {sys.modules['torch'].get_num_threads()}")
    if "faiss" in sys.modules:
        parts.append(f"faiss {sys.modules['faiss'].omp_get_max_threads()}")
    env = [f"{name}={os.environ[name]}" for name in THREAD_VARIABLES if name in os.environ]
    return ", ".join(parts + (env or ["no OMP/MKL/OPENBLAS_NUM_THREADS set"])).replace(";,", ";")


def describe(threads: int | str | None = None, *, cpuinfo: str | None = None, cores: int | None = None) -> str:
    """Two lines naming this machine: platform, CPU model, cores, the kernel-deciding CPU flags; Python, library
    versions and thread settings. ``threads`` is what the script set (a number or a phrase such as "1 per run");
    ``cpuinfo`` and ``cores`` replace this machine's /proc/cpuinfo text and core count (for tests).
    Call it after the script has set its thread counts.

    >>> fake = "processor : 0\\nmodel name : Example CPU\\nflags : fpu sse2 avx2 avx512f amx_bf16 popcnt\\n"
    >>> first, second = describe(threads=1, cpuinfo=fake, cores=4).splitlines()
    >>> first.split(", ", 1)[1]
    'Example CPU, 4 cores | CPU flags: amx_bf16 avx2 avx512f popcnt'
    >>> second.split(" | ")[-1].startswith("threads: script: 1; torch ")
    True
    """
    from utils.train_gpt import cpu_flags     # the course's one flag reader (Linux /proc/cpuinfo, macOS sysctl)

    flags = cpu_flags(cpuinfo)
    kept = relevant_flags(flags)
    shown = " ".join(kept) if kept else ("(none of " + "/".join(FLAG_PREFIXES) + ")" if flags else "(not readable)")
    if cores is None:
        cores = os.cpu_count() or 0
        usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
        core_text = f"{cores} cores" + (f" ({usable} usable by this process)" if usable != cores else "")
    else:
        core_text = f"{cores} cores"
    return (f"machine: {platform.system()} {platform.machine()}, {cpu_model(cpuinfo)}, {core_text} | "
            f"CPU flags: {shown}\n"
            f"software: {platform.python_implementation()} {platform.python_version()}, {library_versions()} | "
            f"threads: {thread_settings(threads)}")


if __name__ == "__main__":
    print(describe())

"""benchmarks/machine.py names the machine behind every benchmark table, and every benchmark script prints it first."""
import ast
import doctest
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from utils import train_gpt

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if p.name != "machine.py")

X86 = ("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Fake Xeon 9999 @ 3.00GHz\n"
       "flags\t\t: fpu vme sse2 ssse3 fma popcnt avx2 avx512f avx512_bf16 avx512_vnni amx_bf16 amx_tile ht\n\n"
       "processor\t: 1\nmodel name\t: Fake Xeon 9999 @ 3.00GHz\nflags\t\t: fpu sse2 fma popcnt avx2 avx512f\n")
ARM = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes asimddp sve bf16 i8mm\nCPU part\t: 0xd40\n"


def _load():
    spec = importlib.util.spec_from_file_location("bench_machine_under_test", BENCH / "machine.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


machine = _load()


def _flags_shown(text: str) -> list[str]:
    return text.splitlines()[0].split("CPU flags: ", 1)[1].split()


def test_fake_x86_cpuinfo_gives_its_model_flags_and_core_count():
    text = machine.describe(cpuinfo=X86, cores=7)
    first = text.splitlines()[0]
    assert len(text.splitlines()) == 2
    assert "Fake Xeon 9999 @ 3.00GHz" in first and "7 cores" in first
    # the kernel-deciding flags, sorted, each once; fpu, sse2 and ht are left out
    assert _flags_shown(text) == ["amx_bf16", "amx_tile", "avx2", "avx512_bf16", "avx512_vnni", "avx512f", "fma",
                                  "popcnt"]


def test_fake_arm_cpuinfo_gives_its_features():
    assert _flags_shown(machine.describe(cpuinfo=ARM, cores=64)) == ["asimd", "asimddp", "bf16", "i8mm", "sve"]
    assert "64 cores" in machine.describe(cpuinfo=ARM, cores=64)


def test_missing_or_irrelevant_flags_are_said_so():
    assert "CPU flags: (not readable)" in machine.describe(cpuinfo="processor : 0\n", cores=1)
    assert "CPU flags: (none of avx2/" in machine.describe(cpuinfo="flags : fpu sse2\n", cores=1)


def test_second_line_names_python_libraries_and_threads(monkeypatch):
    import numpy
    import torch
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    second = machine.describe(threads="5 per run", cpuinfo=X86, cores=2).splitlines()[1]
    assert f"torch {torch.__version__}" in second and f"numpy {numpy.__version__}" in second
    assert "threads: script: 5 per run; torch " in second and f"torch {torch.get_num_threads()}" in second
    assert "OMP_NUM_THREADS=3" in second
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert "OMP_NUM_THREADS" not in machine.thread_settings().replace("no OMP/MKL/OPENBLAS_NUM_THREADS set", "")


def test_this_machine_uses_the_course_flag_reader():
    expected = machine.relevant_flags(train_gpt.cpu_flags())         # computed before describe() runs
    text = machine.describe()
    if expected:
        assert _flags_shown(text) == expected
    import os
    assert f"{os.cpu_count()} cores" in text.splitlines()[0]


def test_docstring_examples():
    result = doctest.testmod(machine)
    assert result.attempted >= 4 and result.failed == 0


def _prints_describe(source: str) -> bool:
    """The script imports describe from machine and passes a describe(...) call to print (directly or by a name)."""
    tree = ast.parse(source)
    imported = any(isinstance(node, ast.ImportFrom) and node.module == "machine"
                   and any(alias.name == "describe" for alias in node.names) for node in ast.walk(tree))
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    described = {target.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
                 and isinstance(node.value, ast.Call) and getattr(node.value.func, "id", None) == "describe"
                 for target in node.targets if isinstance(target, ast.Name)}
    printed = any(getattr(call.func, "id", None) == "print" and call.args
                  and ((isinstance(call.args[0], ast.Call) and getattr(call.args[0].func, "id", None) == "describe")
                       or (isinstance(call.args[0], ast.Name) and call.args[0].id in described))
                  for call in calls)
    return imported and printed


def test_the_scan_rejects_a_script_without_the_machine_line():
    assert not _prints_describe("import platform\nprint(platform.machine())\n")
    assert not _prints_describe("from machine import describe\nprint('table')\n")      # imported, never printed
    assert not _prints_describe("def describe():\n    return ''\nprint(describe())\n")   # a local stand-in
    assert _prints_describe("from machine import describe\nprint(describe(2))\n")
    assert _prints_describe("from machine import describe\nm = describe()\nprint(m, flush=True)\n")


def test_scripts_are_found():
    names = {p.name for p in SCRIPTS}
    assert {"bench_bpe.py", "bench_gpt.py", "bench_quantization.py", "time_notebooks.py"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_benchmark_prints_the_machine(script):
    source = script.read_text()
    assert _prints_describe(source), f"{script.name} must print describe() from benchmarks/machine.py first"
    assert "def cpu_flags" not in source, f"{script.name}: read flags with utils.train_gpt.cpu_flags (via machine.py)"
    if "json.dumps" in source and script.name != "bench_quantization.py":   # its "machine" is a dict notebook 11 reads
        assert '"machine": describe(' in source or '"machine": machine,' in source, \
            f"{script.name} writes JSON: store describe() in its \"machine\" field"


def test_a_script_run_from_another_folder_prints_the_machine_first(tmp_path):
    out = subprocess.run([sys.executable, str(BENCH / "bench_vectors.py"), "--n", "40", "--dim", "8", "--repeats", "1"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0].startswith("machine: ") and lines[1].startswith("software: ")
    assert sum(line.startswith("machine: ") for line in lines) == 1
    assert "CPU flags: " in lines[0]

"""The simulated-machine runner (tests/portability.py): combinations parse, rotate over the whole matrix, and a typo
fails before anything runs. The runs themselves are `make test` (one combination) and `make test-portable` (all).
Also the rule of conftest.py that gives parallel test workers their share of the CPU's threads."""
import datetime
import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("portability", ROOT / "tests" / "portability.py")
portability = importlib.util.module_from_spec(spec)
spec.loader.exec_module(portability)


def test_the_matrix_has_every_combination_once():
    assert len(portability.ALL) == len(set(portability.ALL)) == 8
    assert "generic:default:1" in portability.ALL and "avx2:avx2:2" in portability.ALL


def test_a_combination_sets_the_variables_that_force_it():
    env = portability.parse("generic:avx2:1")
    assert env["FAISS_OPT_LEVEL"] == "generic" and env["ATEN_CPU_CAPABILITY"] == "avx2"
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "1"


@pytest.mark.parametrize("bad", ["avx512:default:1", "generic:default", "generic:default:4", ""])
def test_a_typo_is_one_clear_error(bad):
    with pytest.raises(SystemExit, match="bad combination"):
        portability.parse(bad)


def test_rotation_covers_the_matrix_over_eight_days(monkeypatch):
    seen = set()
    for day in range(8):
        fake = datetime.date(2026, 1, 1) + datetime.timedelta(days=day)

        class FakeDate(datetime.date):
            @classmethod
            def today(cls):
                return fake

        monkeypatch.setattr(portability.datetime, "date", FakeDate)
        seen.add(portability.rotating())
    assert seen == set(portability.ALL)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_test_runs_one_simulated_machine_and_test_portable_all():
    test = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True).stdout
    assert "tests/portability.py --rotate" in test
    allm = subprocess.run(["make", "-n", "test-portable"], cwd=ROOT, capture_output=True, text=True).stdout
    assert "tests/portability.py --" in allm and "--rotate" not in allm


def test_parallel_test_workers_share_the_cores_threads():
    """conftest.py: under ``pytest -n N`` each worker (and what it starts) gets cores // N threads, unless the thread
    variables are set already (a simulated machine sets them)."""
    import doctest

    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    root_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root_conftest)
    assert doctest.testmod(root_conftest).failed == 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert root_conftest.share_of_threads(2, {})["OMP_NUM_THREADS"] == str(max(1, cores // 2))
    assert root_conftest.share_of_threads(cores * 4, {})["MKL_NUM_THREADS"] == "1"
    assert root_conftest.share_of_threads(2, {"OPENBLAS_NUM_THREADS": "2"}) == {}
    assert root_conftest.share_of_threads(None, {}) == {}

"""Attacks on the grader's plumbing, each performed by a submission (tests/fixtures/attacks.py), graded the ways an
instructor grades: batch mode with two workers (the attacker next to an honest learner, with --allow-network, private
checks and a Canvas export), the Gradescope runner, and one kernel directly. Each test says which attack it shows
failing. The sandbox's isolation needs Linux namespaces; where ``unshare`` cannot make them the tests that rely on
them skip (and say so) - docs/instructors.md says what holds there.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from jupyter_client import KernelManager

from course_tools.grading.kernel import Kernel
from course_tools.grading.sandbox import Limits, isolation
from fixtures.attacks import FORGED, MARKER, PRIVATE_CHECKS, SOLUTION, hostile_submission

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow
ISOLATED = {"--mount", "--pid", "--net"} <= set(isolation())
needs_namespaces = pytest.mark.skipif(not ISOLATED, reason="unshare cannot make mount/PID/network namespaces here")




@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Grade the attacker (folder ``=2+5``: a formula, if a spreadsheet read it as one) and an honest learner at the
    same time, with --allow-network and private checks; the class folder also holds a link to the solution."""
    base = tmp_path_factory.mktemp("attacks")
    subs, out = base / "subs", base / "out"
    (subs / "=2+5").mkdir(parents=True)
    (subs / "honest").mkdir()
    victim = subs / "honest" / "02_norms_distances_similarity.ipynb"
    shutil.copy(SOLUTION, victim)
    private = base / "private"
    private.mkdir()
    (private / "ch02.py").write_text(PRIVATE_CHECKS)
    hostile_submission(subs / "=2+5" / "02_norms_distances_similarity.ipynb", victim=victim,
                       private_check=private / "ch02.py")
    (subs / "linked").mkdir()
    os.symlink(SOLUTION, subs / "linked" / "02_norms_distances_similarity.ipynb")
    before_victim = victim.read_bytes()
    # someone else's kernel on the same machine (a JupyterLab's, over IPC: its connection file and sockets in /tmp)
    outsider = KernelManager(transport="ipc", connection_file=tempfile.mkdtemp(prefix="lab-", dir="/tmp") + "/k.json")
    outsider.ip = outsider.connection_file[:-len(".json")]
    outsider.start_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tmp = Path(tempfile.mkdtemp(prefix="t", dir="/tmp"))  # the gradings' temporary folder (short: IPC paths)
    try:
        proc = subprocess.run([sys.executable, "-m", "course_tools.grade", str(subs), "--out",
                               str(out / "report.csv"), "--canvas", str(out / "canvas.csv"), "--private-checks",
                               str(private), "--workers", "2", "--timeout", "60", "--allow-network"], cwd=ROOT,
                              capture_output=True, text=True, timeout=900, env=dict(os.environ, TMPDIR=str(tmp)))
        outsider_alive = outsider.is_alive()
    finally:
        outsider.shutdown_kernel(now=True)
        shutil.rmtree(Path(outsider.connection_file).parent, ignore_errors=True)
    left = sorted(p.name for p in tmp.iterdir())
    shutil.rmtree(tmp, ignore_errors=True)
    rows = list(csv.DictReader(open(out / "report.csv", encoding="utf-8")))
    return {"proc": proc, "rows": rows, "out": out, "victim": victim, "victim_before": before_victim,
            "left": left, "canvas": (out / "canvas.csv").read_text(encoding="utf-8"), "outsider": outsider_alive}


def statuses(rows, who: str) -> dict[str, str]:
    return {r["exercise"]: r["status"] for r in rows if r["submission"].lstrip("'").startswith(who)}


def messages(rows, who: str) -> dict[str, str]:
    return {r["exercise"]: r["message"] for r in rows if r["submission"].lstrip("'").startswith(who)}


@needs_namespaces
def test_a_forged_result_and_a_malformed_message_change_nothing(batch):
    """Critical: a fake result written to the grader's output and a stream message whose text is a list."""
    assert batch["proc"].returncode == 0, batch["proc"].stderr[-2000:]
    got = statuses(batch["rows"], "=2+5")
    assert got == {"2.1": "failed", "2.2": "passed", "2.2p1": "passed", "2.3": "failed", "2.4": "failed",
                   "2.5": "failed", "2.6": "failed", "2.7": "failed", "2.8": "passed", "2.9": "failed"}, got
    assert FORGED not in batch["proc"].stdout + batch["proc"].stderr


@needs_namespaces
def test_the_honest_learner_next_to_the_attacker_keeps_every_point(batch):
    """High: concurrent kernels could read each other's connection files and kill or rewrite each other."""
    got = statuses(batch["rows"], "honest")
    assert set(got.values()) == {"passed"} and len(got) == 10, got
    assert batch["victim"].read_bytes() == batch["victim_before"]  # links planted for kernel.json went nowhere


@needs_namespaces
def test_a_kernel_outside_the_grading_survives_the_hunt(batch):
    """High: the attacker hunts connection files under /tmp and stops every kernel it reaches; a JupyterLab on the
    same machine keeps them there (the grader's own temporary folder was covered, /tmp itself was not)."""
    assert batch["outsider"] is True


@needs_namespaces
def test_nothing_is_planted_left_behind_or_leaked(batch):
    """High: modules on the grader's import path (--allow-network keeps every namespace but the network's), the disk,
    a tree too deep to remove; the private checks' text in the feedback."""
    for name in ("torch.py", "numpy.py", "nbformat.py"):
        assert not (ROOT / name).exists() and not (ROOT / "course_tools" / name).exists()
    assert batch["left"] == []  # every grading's folders removed, however deep a tree was left in them
    everything = (batch["out"] / "report.csv").read_text() + (batch["out"] / "report.md").read_text() + batch["canvas"]
    assert MARKER not in everything


@needs_namespaces
def test_the_answer_writing_rules_hold(batch):
    """High: an answer built with exec (no source), the reference through a helper cell or through utils.checks,
    two definitions of one name, the solution read at grading time, a decompression bomb as an answer."""
    msg = messages(batch["rows"], "=2+5")
    assert "cannot see how norms_numpy is written" in msg["2.1"], msg["2.1"]
    assert "utils.vectors.cosine_similarity" in msg["2.4"], msg["2.4"]
    assert "utils.checks.ch02.vectors.normalize_rows" in msg["2.5"], msg["2.5"]
    assert "uses a Python loop" in msg["2.6"], msg["2.6"]  # the definition Python keeps is the one judged
    assert "FileNotFoundError" in msg["2.7"] or "No such file" in msg["2.7"], msg["2.7"]
    assert "could not reach your code" in msg["2.9"] or "could not read" in msg["2.9"], msg["2.9"]


@needs_namespaces
def test_links_in_the_class_folder_are_not_followed_and_csv_cells_are_text(batch):
    """Medium/low: a link to the solution in a learner's folder; a folder named like a formula."""
    assert not [r for r in batch["rows"] if r["submission"].startswith("linked")]
    assert "'=2+5" in batch["canvas"] and ",=2+5" not in batch["canvas"]
    text = (batch["out"] / "report.csv").read_text()
    assert "\n=2+5" not in text and "'=2+5" in text


# ---------------------------------------------------------------------------------------------- one kernel
@needs_namespaces
def test_the_kernel_cannot_reach_the_graders_output_or_processes(tmp_path, capfd):
    """Critical: ipykernel keeps a copy of the inherited stdout; with the host's /proc the kernel could also open
    the grader's own descriptors. The kernel's stdio is /dev/null, its /proc is its own namespace's, and its /dev
    holds harmless devices only."""
    kernel = Kernel(tmp_path, Limits(), hide=[ROOT / "solutions"])
    kernel.start()
    try:
        run = kernel.run("import os, sys\n"
                         "for fd in {getattr(sys.stdout, '_original_stdstream_copy', 1), 1, 2}:\n"
                         "    os.write(fd, b'FORGED-1\\n')\n"
                         "print(sorted(p for p in os.listdir('/proc') if p.isdigit()))\n"
                         "print(os.listdir(%r))\n"
                         "print(sorted(os.listdir('/dev')))" % str(ROOT / "solutions"), 30)
    finally:
        kernel.close()
    assert run.state == "ok", (run.ename, run.evalue)
    pids, hidden, devices = run.stdout.strip().splitlines()
    # as uid 0 without capabilities it could still open devices root owns: only harmless ones are there
    assert set(eval(devices)) <= {"null", "zero", "full", "random", "urandom", "tty", "fd", "stdin", "stdout",
                                  "stderr", "shm", "pts"}, devices
    assert len(eval(pids)) <= 3 and hidden == "[]"  # init, the kernel (and a thread leader at most); no solution
    assert "FORGED-1" not in capfd.readouterr().out


@needs_namespaces
def test_a_kernel_cannot_write_where_the_grader_writes(tmp_path):
    """High: the kernel spec, the connection files and the next start's folder are out of the kernel's reach."""
    kernel = Kernel(tmp_path, Limits())
    kernel.start()
    try:
        first = kernel.exchange
        run = kernel.run("import os\nbad = []\nfor d, _, files in os.walk(%r):\n"
                         "    for f in files + ['new']:\n"
                         "        p = os.path.join(d, f)\n"
                         "        try:\n"
                         "            open(p, 'a').close(); bad.append(p)\n"
                         "        except OSError:\n"
                         "            pass\nprint(bad)" % str(tmp_path), 30)
        kernel.restart()
        assert kernel.exchange != first
    finally:
        kernel.close()
    written = eval(run.stdout.strip())
    assert written and all(p.startswith(str(first)) for p in written), written  # only its own exchange folder


def test_an_invalid_cell_is_one_line_not_a_crash(tmp_path):
    """Low: a cell whose source is a mapping."""
    nb = json.loads(SOLUTION.read_text(encoding="utf-8"))
    nb["cells"][3]["source"] = {"a": 1}
    bad = tmp_path / "bad.ipynb"
    bad.write_text(json.dumps(nb))
    proc = subprocess.run([sys.executable, "-m", "course_tools.grade", str(bad)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "not a valid notebook" in proc.stdout and "cell 4 has no text source" in proc.stdout


def test_a_grader_that_fails_is_never_a_result(tmp_path, monkeypatch):
    """Critical: batch mode believes only a grading process that exits 0 after writing its result."""
    from course_tools.grading import worker

    result = worker._parse_result("a.ipynb", 1, {"out": FORGED.encode(), "err": b"Traceback\nTypeError: boom"})
    assert result.problem.startswith("grader error (exit code 1)") and not result.exercises
    over = worker._parse_result("a.ipynb", 0, {"out": b"[", "out_over": True})
    assert over.problem == "grader error: its result was too large"
    wrong = worker._parse_result("a.ipynb", 0, {"out": b'[{"path": "a", "exercises": [{"id": "2.1", "status": "ok"}]}]'})
    assert wrong.problem.startswith("grader error") and not wrong.exercises


def test_a_compressed_answer_is_refused_before_it_is_inflated(tmp_path):
    """High: 1 MB on disk, 1 GiB inflated; the grader reads stored archives within the limit only."""
    import io
    import zipfile

    from course_tools.grading.answers import _read_answer

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("__json__.npy", b"")
        with z.open("big.npy", "w", force_zip64=True) as f:
            for _ in range(1024):
                f.write(bytes(2**20))
    path = tmp_path / "answer.npz"
    path.write_bytes(buffer.getvalue())
    assert path.stat().st_size < 2 * 2**20
    assert _read_answer(path) is None


# ---------------------------------------------------------------------------------------------- Gradescope
def test_gradescope_grades_only_the_assignments_notebook(tmp_path, monkeypatch):
    """Medium: three copies of chapter 00's solution and a link to chapter 02's for a chapter-02 assignment."""
    from course_tools.grading import batch as batch_module
    from course_tools.grading import gradescope

    root = tmp_path / "autograder"
    for sub in ("submission", "source", "results"):
        (root / sub).mkdir(parents=True)
    for k in range(3):
        shutil.copy(ROOT / "solutions" / "00_welcome.ipynb", root / "submission" / f"copy{k}.ipynb")
    os.symlink(SOLUTION, root / "submission" / "linked.ipynb")
    (root / "source" / "settings.json").write_text('{"chapter": "02", "timeout": 30}')
    graded = []
    monkeypatch.setattr(batch_module, "grade_batch", lambda found, **_: graded.extend(found) or [])
    gradescope.autograde({"AUTOGRADER_ROOT": str(root)}, log=open(os.devnull, "w"))
    doc = json.loads((root / "results" / "results.json").read_text())
    assert graded == [] and doc["score"] == 0.0
    assert "No notebook of chapter 02" in doc["output"] and "copy0.ipynb: not the notebook" in doc["output"]
    # two copies of the right notebook: one is graded
    for k in range(2):
        shutil.copy(SOLUTION, root / "submission" / f"mine{k}.ipynb")
    gradescope.autograde({"AUTOGRADER_ROOT": str(root)}, log=open(os.devnull, "w"))
    assert [name for _, name in graded] == ["mine0.ipynb"]
    assert "mine1.ipynb: only one notebook is graded" in json.loads((root / "results" / "results.json").read_text())[
        "output"]


def test_the_fixture_is_a_notebook_whose_plan_breaks_the_rules(tmp_path):
    """The plan (no kernel): two definitions of an answer in its cell fail the rule; the mirrored reference reached
    from a helper cell and through the check module are reference uses."""
    from course_tools.grading.planning import plan
    from course_tools.manifest import Course

    path = hostile_submission(tmp_path / "a.ipynb", victim=tmp_path / "v", private_check=tmp_path / "p.py")
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    chapter = Course().chapter("02")
    the_plan = plan(nb, chapter)
    assert the_plan.rules == {"2.6": "its cell defines pairwise_cosine more than once: keep one definition, the one "
                                     "you want graded"}
    assert the_plan.references == {"2.4": ["utils.vectors.cosine_similarity"],
                                   "2.5": ["utils.checks.ch02.vectors.normalize_rows"]}
    honest = plan(nbformat.read(SOLUTION, as_version=4), chapter)
    assert honest.rules == {} and honest.references == {}


def test_a_tree_too_deep_for_recursion_is_removed(tmp_path):
    """High: a 1,200-deep tree made TemporaryDirectory's cleanup raise RecursionError (no report, files left)."""
    from course_tools.grading.notebook import remove_tree

    deep = tmp_path / "work"
    deep.mkdir()
    fd = os.open(deep, os.O_RDONLY)
    for _ in range(1200):  # one level at a time (os.makedirs itself recurses)
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)
    remove_tree(deep)
    assert not deep.exists()


@needs_namespaces
def test_the_gradescope_runner_gives_no_points_for_forged_stubs(tmp_path):
    """Critical, through autograder/run_autograder: every exercise a stub, plus a cell that writes a full-marks result
    to the stdout ipykernel inherited and then sends a stream message with a forged parent: no points, 0 of 9."""
    from fixtures.attacks import FORGE_ONLY, LEARNER

    root = tmp_path / "autograder"
    for sub in ("submission", "source", "results"):
        (root / sub).mkdir(parents=True)
    nb = nbformat.read(LEARNER, as_version=4)
    first = next(i for i, c in enumerate(nb.cells) if "exercise" in c.metadata.get("tags", []))
    nb.cells.insert(first, nbformat.v4.new_code_cell(FORGE_ONLY % {"forged": FORGED}))
    nbformat.write(nb, root / "submission" / "02_norms_distances_similarity.ipynb")
    (root / "source" / "settings.json").write_text('{"chapter": "02", "timeout": 60}')
    env = {"AUTOGRADER_ROOT": str(root), "AUTOGRADER_COURSE": str(ROOT), "AUTOGRADER_PYTHON": sys.executable,
           "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(tmp_path))}
    proc = subprocess.run(["bash", str(ROOT / "autograder" / "run_autograder")], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((root / "results" / "results.json").read_text())
    assert doc["score"] == 0.0 and len(doc["tests"]) == 9, doc["output"]
    assert all(t["output"].startswith("not attempted") for t in doc["tests"]), [t["output"] for t in doc["tests"]]


@pytest.mark.skipif(not __import__("course_tools.grading.cgroups", fromlist=["x"]).cgroup_support(),
                    reason="no control group can be made here (not root, or none mounted)")
def test_processes_are_limited_for_the_kernel_as_a_whole(tmp_path):
    """High: RLIMIT_NPROC means nothing for root and RLIMIT_AS holds per process; the kernel's control group limits
    everything it starts together (here: 64 processes)."""
    kernel = Kernel(tmp_path, Limits(extra_processes=64))
    kernel.start()
    try:
        run = kernel.run("import subprocess\nprocs, err = [], ''\ntry:\n    for _ in range(200):\n"
                         "        procs.append(subprocess.Popen(['sleep', '30']))\nexcept OSError as e:\n"
                         "    err = type(e).__name__\nprint(len(procs), err)\nfor p in procs:\n    p.kill()\n"
                         "print('course-grader/' in open('/proc/self/cgroup').read())", 60)
    finally:
        kernel.close()
    started, err, grouped = run.stdout.split()
    assert int(started) < 64 and err in ("BlockingIOError", "OSError") and grouped == "True", run.stdout

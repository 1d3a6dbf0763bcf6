"""Grade notebooks by running them: ``python -m utils.grade PATH... [--json] [--timeout SECONDS]``.

Batch mode (a folder of submissions, see ``utils/batch_grade.py``)::

    python -m utils.grade SUBMISSIONS_DIR --out report.csv [--workers N] [--timeout S] [--memory-mb MB]

Every exercise of the notebook's chapter is reported as

    passed          the course's check printed its pass line
    failed          the check's one-line message (or the error that stopped the check)
    not attempted   the stub is still there
    not run         the notebook stopped (timeout, crashed kernel) before the check was reached

How a notebook is graded, so that the grade comes from the course and not from the submission:

- The chapter is identified from the cell ids the generator writes (they survive renaming the file), else from
  ``metadata.course.chapter``, else from the file name.
- The learner's own check cells (tag ``check``, or the id of a course check cell) are dropped, whatever they were
  edited to. The course's check cells, read from ``notebooks/NN_*.ipynb``, are inserted right after the learner's
  matching exercise cell (matched by cell id, else by the names the exercise defines), so deleted, edited or moved
  check cells change nothing. Only the outputs of those inserted cells are read: a learner printing a fake pass line
  gains nothing.
- The notebook runs in a child process, in a fresh temporary folder, with a per-cell timeout, a limit on the whole
  run and a memory limit (``RLIMIT_AS``, inherited by the kernel). The file you pass is only read, never written.
  Stream outputs are cut to a few hundred kB, so a notebook printing megabytes cannot swamp the grader.
- A missing file, a file that is not a notebook, a kernel that dies and a cell that runs past the timeout are
  reported as such, and the other notebooks given are still graded.

This is a grading harness, not a security sandbox: the learner's code runs with your user's rights (it cannot damage
the submission folder by accident, as it runs elsewhere, but deliberately hostile code can reach any file you can).
Exit code 0 only when every exercise of every notebook passed.
"""
from __future__ import annotations

import argparse
import ast
import copy
import importlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from utils.checks import PASS_MARK, REGISTRY
from utils.generate import assigned_names

ROOT = Path(__file__).resolve().parent.parent
COURSE_DIR = ROOT / "notebooks"  # the canonical learner notebooks: their check cells are the course's checks
PASSED, FAILED, NOT_ATTEMPTED, NOT_RUN = "passed", "failed", "not attempted", "not run"
ICONS = {PASSED: "✅", FAILED: "❌", NOT_ATTEMPTED: "⏳", NOT_RUN: "⛔"}
PASS_LINE = re.compile(re.escape(PASS_MARK) + r" \[(?P<id>[\w.]+)\] .*: passed")
CHECK_ERRORS = {"ExerciseFailed": FAILED, "ExerciseNotAttempted": NOT_ATTEMPTED}
ID_IN_MESSAGE = re.compile(r"^\[(?P<id>[\w.]+)\] (?P<message>.*)$", re.S)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
CHECK_CALL = re.compile(r"\bcheck\.(\w+)\(")
NEVER_REPORTED = "its check cell never reported (deleted, or not run?)"
DEFAULT_MEMORY_MB = 4096  # torch alone maps ~1 GiB of address space; 4 GiB leaves room for every course notebook
MAX_STREAM_CHARS = 200_000  # per output: more is cut (a runaway print loop must not fill the grader's memory)
GRADER_CELL = "grader-check-"  # id prefix of the check cells the grader inserts


@dataclass
class ExerciseResult:
    id: str
    title: str
    status: str = NOT_ATTEMPTED
    message: str = NEVER_REPORTED


@dataclass
class NotebookResult:
    path: str
    chapter: str | None = None
    problem: str | None = None  # the notebook could not be graded completely: why
    exercises: list[ExerciseResult] = field(default_factory=list)
    checks: str = ""  # where the checks came from: "course" or "notebook" (no canonical notebook for the chapter)
    seconds: float = 0.0

    @property
    def all_passed(self) -> bool:
        return self.problem is None and bool(self.exercises) and all(e.status == PASSED for e in self.exercises)


# ---------------------------------------------------------------------------------------------- the course side
def chapter_of(nb, path: Path) -> str | None:
    """The chapter a notebook claims: its metadata (written by the generator), else its file name."""
    chapter = nb.get("metadata", {}).get("course", {}).get("chapter")
    if chapter and re.fullmatch(r"\d{1,3}", str(chapter)):
        return str(chapter).zfill(2)
    match = re.match(r"(\d+)_", path.name)
    return match.group(1).zfill(2) if match else None


def expected_exercises(chapter: str | None) -> dict[str, str]:
    """Exercise id -> title for a chapter, from the course's own check module ``utils.checks.chNN``."""
    if chapter is None:
        return {}
    try:
        importlib.import_module(f"utils.checks.ch{chapter}")
    except ModuleNotFoundError:
        return {}
    return dict(REGISTRY.get(chapter, {}))


def _check_function_ids(chapter: str | None) -> dict[str, str]:
    """Name of each check function in ``utils.checks.chNN`` -> its exercise id."""
    if chapter is None:
        return {}
    try:
        module = importlib.import_module(f"utils.checks.ch{chapter}")
    except ModuleNotFoundError:
        return {}
    return {name: fn.ex_id for name, fn in vars(module).items() if callable(fn) and hasattr(fn, "ex_id")}


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def defined_names(source: str) -> set[str]:
    """Top-level names a cell defines: ``"def f(x): ...\\na, b = 1, 2"`` -> ``{'f', 'a', 'b'}``."""
    try:
        tree = ast.parse(_strip_magics(source))
    except (SyntaxError, ValueError):  # a learner cell that does not parse: fall back on a plain pattern
        return set(re.findall(r"^(?:def\s+)?([A-Za-z_]\w*)\s*[=(]", source, re.M))
    names = set(assigned_names(tree.body))
    names.update(node.name for node in tree.body
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))
    return names


def _strip_magics(source: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


@dataclass
class CourseExercise:
    """One exercise as the course defines it: its exercise cell, and the check cell that follows it."""
    id: str
    exercise_cell_id: str
    check_cell_id: str
    check_source: str
    names: set[str]


def canonical_notebook(chapter: str | None, course_dir: Path | None = None) -> Path | None:
    """``notebooks/NN_*.ipynb`` for a chapter, or None when the course has no such notebook (yet)."""
    if chapter is None:
        return None
    found = sorted(Path(course_dir or COURSE_DIR).glob(f"{chapter}_*.ipynb"))
    return found[0] if found else None


_COURSE_CACHE: dict[tuple[str, float], list[CourseExercise]] = {}


def course_exercises(chapter: str | None, course_dir: Path | None = None) -> list[CourseExercise] | None:
    """The exercises of a chapter, in order, read from its canonical notebook; None when there is none."""
    path = canonical_notebook(chapter, course_dir)
    if path is None:
        return None
    key = (str(path), path.stat().st_mtime)
    if key in _COURSE_CACHE:
        return _COURSE_CACHE[key]
    nb = nbformat.read(path, as_version=4)
    functions = _check_function_ids(chapter)
    code = [c for c in nb.cells if c.cell_type == "code"]
    exercises = []
    for i, cell in enumerate(code):
        if "exercise" not in _tags(cell) or i + 1 >= len(code) or "check" not in _tags(code[i + 1]):
            continue
        check = code[i + 1]
        called = [functions[name] for name in CHECK_CALL.findall(check.source) if name in functions]
        if not called:
            continue
        exercises.append(CourseExercise(called[0], cell.get("id", ""), check.get("id", ""), check.source,
                                        defined_names(cell.source)))
    _COURSE_CACHE[key] = exercises
    return exercises


def identify_chapter(nb, path: Path, course_dir: Path | None = None) -> str | None:
    """The chapter of a submission: the course notebook sharing the most cell ids with it (ids survive renaming and
    editing), else the chapter in its metadata, else the number its file name starts with."""
    ids = {c.get("id") for c in nb.get("cells", []) if c.get("id")}
    best, best_overlap = None, 0
    for canon in sorted(Path(course_dir or COURSE_DIR).glob("[0-9]*_*.ipynb")):
        try:
            canon_ids = {c.get("id") for c in json.loads(canon.read_text(encoding="utf-8")).get("cells", [])}
        except (OSError, ValueError):
            continue
        overlap = len(ids & canon_ids)
        if overlap > best_overlap:
            best, best_overlap = canon.name.split("_")[0].zfill(2), overlap
    if best is not None and best_overlap >= 2:
        return best
    return chapter_of(nb, path)


def graded_version(nb, chapter: str, exercises: list[CourseExercise]):
    """The notebook that is actually run: the learner's cells without their check cells, and the course's check cell
    for every exercise inserted right after the learner's exercise cell (by id; else after the last cell defining the
    exercise's names; else at the end). The input is not modified."""
    check_ids = {e.check_cell_id for e in exercises}
    kept = []
    for cell in nb.cells:
        if cell.cell_type == "code" and ("check" in _tags(cell) or cell.get("id") in check_ids):
            continue  # the learner's copy of a check cell: whatever it says now, the course's version replaces it
        cell = copy.deepcopy(cell)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        kept.append(cell)
    after: dict[int, list[CourseExercise]] = {}
    for ex in exercises:
        index = next((i for i, c in enumerate(kept) if c.cell_type == "code" and c.get("id") == ex.exercise_cell_id),
                     None)
        if index is None and ex.names:
            defining = [i for i, c in enumerate(kept) if c.cell_type == "code" and ex.names & defined_names(c.source)]
            index = defining[-1] if defining else None
        after.setdefault(len(kept) - 1 if index is None else index, []).append(ex)
    cells = []
    for i, cell in enumerate(kept):
        cells.append(cell)
        cells.extend(_check_cell(chapter, ex) for ex in after.get(i, []))
    if not kept:
        cells.extend(_check_cell(chapter, ex) for ex in after.get(-1, []))
    graded = nbformat.v4.new_notebook(cells=cells)
    graded.metadata = copy.deepcopy(nb.get("metadata", {}))
    graded.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    return graded


def _check_cell(chapter: str, ex: CourseExercise):
    # A fresh copy of the check module, so a learner cell that patched it (or rebound `check`) changes nothing.
    source = ("import importlib as _grader_importlib\n"
              f"check = _grader_importlib.reload(_grader_importlib.import_module('utils.checks.ch{chapter}'))\n"
              + ex.check_source)
    cell = nbformat.v4.new_code_cell(source, metadata={"grader": {"exercise": ex.id}})
    cell.id = GRADER_CELL + re.sub(r"[^A-Za-z0-9]", "-", ex.id)
    return cell


# ---------------------------------------------------------------------------------------------- reading results
def _error_text(out) -> tuple[str, str]:
    return out.get("ename", ""), ANSI.sub("", out.get("evalue", "")).strip()


def read_course_results(nb, results: dict[str, ExerciseResult]) -> None:
    """Fill ``results`` from the grader's own check cells of an executed graded notebook (nothing else counts)."""
    previous = None
    for cell in nb.cells:
        ex_id = cell.get("metadata", {}).get("grader", {}).get("exercise")
        if cell.cell_type != "code":
            continue
        if ex_id is None:
            previous = cell
            continue
        outputs = cell.get("outputs", [])
        errors = [out for out in outputs if out.get("output_type") == "error"]
        passed = any(m["id"] == ex_id for out in outputs if out.get("output_type") == "stream"
                     for m in PASS_LINE.finditer(out.get("text", "")))
        learner_errors = [o for o in (previous or {}).get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            ename, evalue = _error_text(errors[-1])
            parsed = ID_IN_MESSAGE.match(evalue)
            if ename in CHECK_ERRORS and parsed and parsed["id"] == ex_id and not learner_errors:
                _record(results, ex_id, CHECK_ERRORS[ename], parsed["message"])
            else:
                # the exercise cell itself crashed (MemoryError, NameError...): that, not what the check saw of
                # names left over from earlier cells, is the learner's mistake
                if learner_errors:
                    le_name, le_value = _error_text(learner_errors[-1])
                    message = f"the exercise cell raised {le_name}: {le_value}".strip().rstrip(":")
                else:
                    message = f"the check could not run: {ename}: {evalue}".strip().rstrip(":")
                _record(results, ex_id, FAILED, message[:300])
        elif passed:
            _record(results, ex_id, PASSED, "")
        elif cell.get("execution_count") is not None:
            _record(results, ex_id, FAILED, "the check ran but reported nothing (did your code silence its output?)")
        # else: never executed - stays "its check cell never reported", turned into "not run" by the caller


def read_results(nb, chapter: str | None, results: dict[str, ExerciseResult]) -> None:
    """Fill ``results`` from the outputs of an executed notebook run with its OWN check cells (no canonical
    notebook for its chapter): trusts what the notebook prints."""
    functions = _check_function_ids(chapter)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        seen_here = set()
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                for match in PASS_LINE.finditer(out.get("text", "")):
                    _record(results, match["id"], PASSED, "")
                    seen_here.add(match["id"])
            elif out.get("output_type") == "error":
                ename, evalue = _error_text(out)
                parsed = ID_IN_MESSAGE.match(evalue)
                if ename in CHECK_ERRORS and parsed:
                    _record(results, parsed["id"], CHECK_ERRORS[ename], parsed["message"])
                    seen_here.add(parsed["id"])
                elif "check" in _tags(cell) or CHECK_CALL.search(cell.source):
                    # the check cell itself crashed before the check could run (e.g. NameError)
                    for name, ex_id in functions.items():
                        if re.search(rf"\b{name}\(", cell.source) and ex_id not in seen_here:
                            _record(results, ex_id, FAILED, f"the check cell raised {ename}: {evalue}".strip())


def _record(results, ex_id, status, message):
    result = results.setdefault(ex_id, ExerciseResult(ex_id, "(unknown exercise)"))
    result.status, result.message = status, message


# ---------------------------------------------------------------------------------------------- running
def execute_isolated(nb, *, timeout: float, memory_mb: int | None = DEFAULT_MEMORY_MB,
                     notebook_timeout: float | None = None):
    """Run ``nb`` in a child process (own temporary folder, memory limit) and return ``(executed_nb, problem)``.

    ``timeout`` limits each cell; ``notebook_timeout`` (default: 2 x timeout + 60 s) the whole run, kernel start
    included. ``executed_nb`` is None when nothing came back; ``problem`` is None when the run went through."""
    notebook_timeout = notebook_timeout or 2 * timeout + 60
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        io_dir, run_dir = Path(tmp) / "io", Path(tmp) / "run"
        io_dir.mkdir()
        run_dir.mkdir()
        src, dst = io_dir / "in.ipynb", io_dir / "out.ipynb"
        nbformat.write(nb, src)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
                   MPLBACKEND="Agg", PYDEVD_DISABLE_FILE_VALIDATION="1")
        cmd = [sys.executable, "-m", "utils.grade", "--run-one", str(src), str(dst), str(timeout),
               str(memory_mb or 0)]
        with open(io_dir / "log.txt", "wb") as log:
            proc = subprocess.Popen(cmd, cwd=run_dir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    start_new_session=True)
            try:
                proc.wait(timeout=notebook_timeout)
                hard_timeout = False
            except subprocess.TimeoutExpired:
                hard_timeout = True
            _kill_group(proc.pid)
            _kill_group(_read_pid(io_dir / "kernel.pid"))
            proc.wait()
        if hard_timeout:
            return None, f"timed out: the notebook ran longer than {notebook_timeout:g} s in all"
        if not dst.exists():
            tail = (io_dir / "log.txt").read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
            return None, f"the grading process failed (exit code {proc.returncode}){': ' + tail[0][:200] if tail else ''}"
        executed = nbformat.read(dst, as_version=4)
        return executed, executed.metadata.pop("grader_run", {}).get("problem")


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _kill_group(pid: int | None) -> None:
    if pid:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _run_one(src: str, dst: str, timeout: float, memory_mb: int) -> int:
    """Child process: limit memory (the kernel inherits it), execute, cut huge outputs, write the result."""
    import logging
    import resource

    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    logging.getLogger("traitlets").setLevel(logging.ERROR)
    if memory_mb > 0:
        limit = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    nb = nbformat.read(src, as_version=4)
    pid_file = Path(dst).parent / "kernel.pid"

    def remember_kernel(**_):
        process = getattr(getattr(client.km, "provisioner", None), "process", None)
        if process is not None:
            pid_file.write_text(str(process.pid))

    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": os.getcwd()}}, on_notebook_start=remember_kernel)
    problem = None
    try:
        client.execute()
    except CellTimeoutError:
        problem = f"timed out: a cell ran longer than {timeout:g} s (infinite loop?)"
    except DeadKernelError:
        problem = "the kernel died (the notebook crashed Python, called os._exit, or ran out of memory)"
    except Exception as exc:  # a kernel that never started, a zmq failure...
        problem = f"could not run: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and len(out.get("text", "")) > MAX_STREAM_CHARS:
                cut = len(out.text) - MAX_STREAM_CHARS
                out.text = out.text[:MAX_STREAM_CHARS] + f"\n[... {cut} more characters cut by the grader]\n"
            if out.get("output_type") == "error":
                out["traceback"] = out.get("traceback", [])[-20:]
    nb.metadata["grader_run"] = {"problem": problem}
    nbformat.write(nb, dst)
    return 0


# ---------------------------------------------------------------------------------------------- one notebook
def grade_notebook(path: Path, timeout: float = 300, *, memory_mb: int | None = DEFAULT_MEMORY_MB,
                   notebook_timeout: float | None = None, course_dir: Path | None = None) -> NotebookResult:
    """Grade one notebook with the course's checks (see the module docstring); never modifies ``path``."""
    start = time.perf_counter()
    path = Path(path)
    result = NotebookResult(str(path))
    try:
        _grade_into(result, path, timeout, memory_mb, notebook_timeout, course_dir)
    finally:
        result.seconds = round(time.perf_counter() - start, 2)
    return result


def _grade_into(result, path, timeout, memory_mb, notebook_timeout, course_dir) -> None:
    if not path.exists():
        result.problem = "file not found"
        return
    try:
        nb = nbformat.read(path, as_version=4)
        if not isinstance(nb.get("cells"), list):
            raise ValueError("no list of cells")
    except Exception as exc:  # NotJSONError, JSONDecodeError, validation errors, unreadable bytes, a folder...
        result.problem = f"not a valid notebook ({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''})"
        return
    result.chapter = identify_chapter(nb, path, course_dir)
    results = {ex_id: ExerciseResult(ex_id, title) for ex_id, title in expected_exercises(result.chapter).items()}
    exercises = course_exercises(result.chapter, course_dir)
    if not results and not exercises:
        return  # no chapter we know of: nothing to grade (format_text says so), no need to run it
    if exercises:
        result.checks = "course"
        for ex in exercises:
            results.setdefault(ex.id, ExerciseResult(ex.id, "(unknown exercise)"))
        to_run = graded_version(nb, result.chapter, exercises)
    else:
        result.checks = "notebook"  # no canonical notebook for this chapter: its own check cells are all we have
        to_run = nb
    executed, result.problem = execute_isolated(to_run, timeout=timeout, memory_mb=memory_mb,
                                                notebook_timeout=notebook_timeout)
    if executed is not None:
        if exercises:
            read_course_results(executed, results)
        else:
            read_results(executed, result.chapter, results)
    if result.problem:
        for r in results.values():
            if r.status == NOT_ATTEMPTED and r.message == NEVER_REPORTED:
                r.status, r.message = NOT_RUN, "not reached: " + result.problem
    result.exercises = list(results.values())


def format_text(result: NotebookResult) -> str:
    head = f"{result.path}" + (f"  (chapter {result.chapter})" if result.chapter else "")
    lines = [head]
    if result.problem:
        lines.append(f"  ⚠️  {result.problem}")
    if result.checks == "notebook":
        lines.append("  ⚠️  no course notebook for this chapter: graded with the notebook's own check cells")
    for e in result.exercises:
        tail = f" - {e.message}" if e.message and e.status != PASSED else ""
        lines.append(f"  {ICONS[e.status]} {e.id} {e.title}: {e.status}{tail}")
    if result.exercises:
        n = sum(e.status == PASSED for e in result.exercises)
        lines.append(f"  {n}/{len(result.exercises)} passed")
    elif not result.problem:
        lines.append("  no exercises found in this notebook")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--run-one"]:  # internal: the child process of execute_isolated
        src, dst, timeout, memory_mb = argv[1:5]
        return _run_one(src, dst, float(timeout), int(memory_mb))
    args = build_parser().parse_args(argv)
    if args.timeout <= 0:
        raise SystemExit("error: --timeout must be a positive number of seconds")
    if args.workers < 1:
        raise SystemExit("error: --workers must be at least 1")
    if args.out is not None or any(p.is_dir() for p in args.paths):
        from utils.batch_grade import run_batch
        return run_batch(args)
    results = []
    for path in args.paths:
        result = grade_notebook(path, timeout=args.timeout, memory_mb=args.memory_mb,
                                notebook_timeout=args.notebook_timeout)
        results.append(result)
        if not args.json:
            print(format_text(result), flush=True)
    if args.json:
        payload = [{**asdict(r), "all_passed": r.all_passed} for r in results]
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    return 0 if results and all(r.all_passed for r in results) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m utils.grade", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="notebook(s) to grade, or a folder of submissions (batch mode)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument("--timeout", type=float, default=300, help="seconds one cell may run (default 300)")
    parser.add_argument("--notebook-timeout", type=float, default=None,
                        help="seconds a whole notebook may run (default 2 x --timeout + 60)")
    parser.add_argument("--memory-mb", type=int, default=DEFAULT_MEMORY_MB,
                        help=f"address-space limit of each notebook's kernel in MiB, 0 = none (default {DEFAULT_MEMORY_MB})")
    parser.add_argument("--out", type=Path, default=None,
                        help="batch mode: write one CSV row per submission and exercise here (+ a .md summary)")
    parser.add_argument("--summary", type=Path, default=None, help="batch mode: markdown summary path "
                        "(default: --out with .md)")
    parser.add_argument("--workers", type=int, default=2, help="batch mode: notebooks graded at once (default 2)")
    return parser


if __name__ == "__main__":
    sys.exit(main())

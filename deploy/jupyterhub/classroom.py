"""A classroom server for the course on one Linux machine: JupyterHub, one unprivileged account per learner.

    sudo .venv/bin/python deploy/jupyterhub/classroom.py start             # the room: prints the URL and passwords
    sudo .venv/bin/python deploy/jupyterhub/classroom.py grade --chapter 00  # grade every learner's notebook 00

``make classroom`` (or ``py course.py classroom``) installs what it needs (the pins in requirements.txt here, the
proxy from npm with ``npm ci``) and runs ``start``. ``start`` needs root: it makes the learners' accounts and their
control groups. The room's folder (``--room``, default /srv/course-room) holds the hub's database, its passwords
file and the learners' homes (``learners/NAME/my-work``); ``grade`` copies each learner's notebooks of a chapter
into ``submissions/NAME/`` (a snapshot: they may go on working) and runs the course's batch grader on that folder.
"""
from __future__ import annotations

import argparse
import grp
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
COURSE = HERE.parents[1]
PROXY = HERE / "node_modules" / ".bin" / "configurable-http-proxy"
GROUP = "course-learners"


def fail(message: str) -> int:
    print(f"classroom.py: {message}", file=sys.stderr)
    return 2


def passwords(room: Path) -> tuple[str, str]:
    """The workshop password and the instructor's: from the environment, else made once and kept in the room."""
    kept = room / "passwords.txt"
    if kept.exists():
        saved = dict(line.split("=", 1) for line in kept.read_text().split())
    else:
        saved = {"learners": secrets.token_urlsafe(9), "instructor": secrets.token_urlsafe(32)}
        kept.touch(mode=0o600)
        kept.write_text("".join(f"{k}={v}\n" for k, v in saved.items()))
    return (os.environ.get("COURSE_HUB_PASSWORD") or saved["learners"],
            os.environ.get("COURSE_HUB_ADMIN_PASSWORD") or saved["instructor"])


def _as_learner_group():
    gid = grp.getgrnam(GROUP).gr_gid

    def preexec():  # nobody, in the learners' group: what a learner's account may reach
        os.setgroups([])
        os.setgid(gid)
        os.setuid(65534)
    return preexec


def course_reachable() -> bool:
    """Can a learner's account run the course's Python and import the course? (Tried, not guessed.)"""
    try:
        probe = subprocess.run([sys.executable, "-c", "import jupyterhub, course_tools.workspace"], cwd="/",
                               preexec_fn=_as_learner_group(), capture_output=True)
    except PermissionError:  # the interpreter itself is out of reach
        return False
    return probe.returncode == 0


def blocking_folders() -> list[Path]:
    """Folders above the course's Python and the course that other accounts cannot pass (e.g. /root, mode 700)."""
    found = []
    for target in (Path(sys.executable).resolve(), Path(sys.prefix).resolve(), COURSE):
        for folder in target.parents:
            if not folder.stat().st_mode & 0o001 and folder not in found:
                found.append(folder)
    return found


def start(args) -> int:
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return fail("start runs as root on Linux (it makes one account per learner): sudo .venv/bin/python ...")
    if not PROXY.exists():
        if not shutil.which("npm"):
            return fail("the proxy is not installed and npm is missing: install Node.js and npm, then run again")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True)
    room = Path(args.room).resolve()
    (room / "learners").mkdir(parents=True, exist_ok=True)
    for folder in (room, room / "learners"):
        folder.chmod(0o755)  # learners reach their own home through these; each home is 700
    try:
        grp.getgrnam(GROUP)
    except KeyError:
        subprocess.run(["groupadd", "--system", GROUP], check=True)
    if not course_reachable():
        blocked = blocking_folders()
        if not args.grant_access or not blocked or not shutil.which("setfacl"):
            return fail(f"the learners' accounts cannot run the course's Python {sys.executable} (folders closed to "
                        f"other accounts: {', '.join(map(str, blocked)) or 'none found'}). Use a Python installed "
                        f"for all users, or pass --grant-access to let the group {GROUP} pass through them "
                        f"(setfacl, package acl; nothing in them becomes listable or readable)")
        for folder in blocked:
            subprocess.run(["setfacl", "-m", f"g:{GROUP}:x", str(folder)], check=True)
            print(f"granted the group {GROUP} passage (x, not list or read) through {folder}", flush=True)
        if not course_reachable():
            return fail(f"the learners' accounts still cannot run {sys.executable}")
    learner_password, admin_password = passwords(room)
    env = {**os.environ, "COURSE_ROOM": str(room), "COURSE_HUB_IP": args.ip, "COURSE_HUB_PORT": str(args.port),
           "COURSE_HUB_PASSWORD": learner_password, "COURSE_HUB_ADMIN_PASSWORD": admin_password,
           "COURSE_HUB_ADMIN": args.admin, "COURSE_HUB_MEMORY_MB": str(args.memory_mb),
           "COURSE_HUB_CPUS": str(args.cpus), "COURSE_HUB_PROCESSES": str(args.processes),
           "COURSE_HUB_MAX_LEARNERS": str(args.max_learners),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    print(f"room {room}: http://{args.ip}:{args.port}/  learners: any name (a-z, 0-9) + password {learner_password}; "
          f"instructor: {args.admin} + password {admin_password} (also in {room / 'passwords.txt'})", flush=True)
    argv = [sys.executable, "-m", "jupyterhub", "-f", str(HERE / "jupyterhub_config.py")]
    os.chdir(room)  # the proxy's pid file and anything else JupyterHub writes beside itself
    os.execve(sys.executable, argv, env)  # the hub replaces this process: Ctrl+C or SIGTERM stop it and the servers


def grade(args, extra: list[str]) -> int:
    room = Path(args.room).resolve()
    homes = sorted(p for p in (room / "learners").glob("*/my-work") if p.is_dir())
    if not homes:
        return fail(f"no learner has a my-work/ folder in {room / 'learners'} yet")
    submissions = room / "submissions" / (f"chapter-{args.chapter}" if args.chapter else "all")
    shutil.rmtree(submissions, ignore_errors=True)
    for home in homes:
        pattern = f"{args.chapter}_*.ipynb" if args.chapter else "[0-9][0-9]_*.ipynb"
        for notebook in sorted(home.glob(pattern)):
            if ".course-update-" not in notebook.name:
                target = submissions / home.parent.name / notebook.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(notebook, target)
    out = Path(args.out) if args.out else submissions.parent / f"{submissions.name}.csv"
    argv = [sys.executable, "-m", "course_tools.grade", str(submissions), "--out", str(out), "--force", *extra]
    print(" ".join(argv), flush=True)
    return subprocess.run(argv, cwd=COURSE).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_start = sub.add_parser("start", help="run the room's JupyterHub (root)")
    p_grade = sub.add_parser("grade", help="grade the learners' notebooks with the course's batch grader "
                                           "(other options go to python -m course_tools.grade)")
    for p in (p_start, p_grade):
        p.add_argument("--room", default="/srv/course-room", help="the room's folder (default /srv/course-room)")
    p_start.add_argument("--ip", default="127.0.0.1", help="address to listen on (0.0.0.0: the room's network)")
    p_start.add_argument("--port", type=int, default=8000)
    p_start.add_argument("--admin", default="instructor", help="the instructor's user name")
    p_start.add_argument("--memory-mb", type=int, default=4096, help="memory of one learner, all processes (4096)")
    p_start.add_argument("--cpus", type=float, default=1.0, help="CPU share of one learner in cores (1)")
    p_start.add_argument("--processes", type=int, default=256, help="processes and threads of one learner (256)")
    p_start.add_argument("--max-learners", type=int, default=40, help="servers running at once (40)")
    p_start.add_argument("--grant-access", action="store_true",
                         help="if the course's Python lies in a folder closed to other accounts (e.g. under /root), "
                              f"let the group {GROUP} pass through it (an ACL entry: x only)")
    p_grade.add_argument("--chapter", default=None, metavar="NN", help="only this chapter's notebook, e.g. 00")
    p_grade.add_argument("--out", default=None, help="the report (default ROOM/submissions/chapter-NN.csv)")
    args, extra = parser.parse_known_args(argv)
    if args.command == "start":
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        return start(args)
    return grade(args, extra)


if __name__ == "__main__":
    sys.exit(main())

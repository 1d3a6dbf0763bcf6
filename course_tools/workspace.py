"""The learner's workspace: personal copies of the course notebooks that are never overwritten.

    python -m course_tools.workspace            # run by `make lab` before JupyterLab starts

- A course notebook with no copy in ``my-work/`` yet is copied there.
- A copy that already exists is NEVER touched. If the course's version changed since the copy was made, the new
  version is written beside it as ``NAME.course-update-<hash>.ipynb`` and the learner is told which file to look at.
- ``my-work/.course-versions.json`` remembers which course version each copy started from.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from course_tools.manifest import NAME, Course, ManifestError

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ".course-versions.json"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def update_name(name: str, digest: str) -> str:
    """``("01_tensors.ipynb", "ab12cd34ef...")`` -> ``"01_tensors.course-update-ab12cd34.ipynb"``."""
    stem = name[: -len(".ipynb")] if name.endswith(".ipynb") else name
    return f"{stem}.course-update-{digest[:8]}.ipynb"


def sync(course_dir: Path, workspace: Path) -> list[str]:
    """Bring ``workspace`` up to date with the notebooks of the course manifest in ``course_dir`` without
    overwriting anything; return messages."""
    chapters = Course(Path(course_dir) / NAME).chapters()
    workspace.mkdir(parents=True, exist_ok=True)
    manifest_path = workspace / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    except json.JSONDecodeError:
        manifest = {}  # a damaged manifest only costs us the "changed since" knowledge; files stay untouched
    messages = []
    for course_nb in (chapter.notebook for chapter in chapters):
        name, digest = course_nb.name, _digest(course_nb)
        mine = workspace / name
        if not mine.exists():
            mine.write_bytes(course_nb.read_bytes())
            manifest[name] = digest
            messages.append(f"new: {mine}")
            continue
        if manifest.get(name) == digest:
            continue  # the course has not changed since this copy was made
        if _digest(mine) == digest:
            manifest[name] = digest  # identical content: nothing to offer
            continue
        update = workspace / update_name(name, digest)
        if not update.exists():
            update.write_bytes(course_nb.read_bytes())
        messages.append(f"updated course version of {name} -> {update} (your {mine.name} is untouched; "
                        f"compare the two and copy over what you want)")
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return messages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_tools.workspace", description=__doc__.splitlines()[0])
    parser.add_argument("--course", type=Path, default=ROOT / "notebooks", help="the course's learner notebooks and their manifest")
    parser.add_argument("--workspace", type=Path, default=ROOT / "my-work", help="the learner's own copies")
    args = parser.parse_args(argv)
    try:
        messages = sync(args.course, args.workspace)
    except (OSError, ManifestError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for m in messages:
        print(m)
    print(f"your workspace: {args.workspace} (your files there are never overwritten)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

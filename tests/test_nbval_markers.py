"""nbval honours a marker only when the whole comment is the marker (``# NBVAL_IGNORE_OUTPUT``); a line such as
``# NBVAL_IGNORE_OUTPUT - timings vary`` is an ordinary comment, and the cell's output is compared after all. Every
comment that names a marker must be one: the reason goes on the next line."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
MARKERS = {"NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP", "NBVAL_RAISES_EXCEPTION", "NBVAL_CHECK_OUTPUT"}


@pytest.mark.parametrize("path", sorted((ROOT / "solutions").glob("*.ipynb")), ids=lambda p: p.name)
def test_every_nbval_marker_is_a_whole_comment(path):
    wrong = []
    for k, cell in enumerate(nbformat.read(path, as_version=4).cells):
        for line in cell.source.splitlines():
            comment = line.strip()
            if comment.startswith("#") and re.search(r"NBVAL_\w+", comment):
                if comment.lstrip("#").strip() not in MARKERS:
                    wrong.append(f"cell {k}: {comment[:80]!r}")
    assert not wrong, "put the reason on the next line: " + "; ".join(wrong)

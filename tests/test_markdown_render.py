"""Markdown renders as the author meant it: quiz options that sit on separate lines in the source become separate
blocks (list items) when rendered, as JupyterLab and the site do (CommonMark: consecutive lines join into one
paragraph, so "a) ...\\nb) ..." would show as one run-on line)."""
import re
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")) + sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
OPTION_LINE = re.compile(r"^\s*(?:[-*+]\s+)?(?:\*\*)?([a-e])\)")  # "a) ...", "- a) ...", "- **a)** ..."
OPTION_IN_TEXT = re.compile(r"(?:^|\s)([a-e])\)\s")

render = MarkdownIt("commonmark").render


def quiz_cells(nb):
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        letters = [m.group(1) for m in map(OPTION_LINE.match, cell.source.splitlines()) if m]
        if len(letters) >= 2:  # options written on separate lines (one-line "a) 1  b) 2" lists are meant inline)
            yield index, cell, letters


def blocks_with_options(html: str) -> list[list[str]]:
    """For each rendered block (list item or paragraph), the option letters that start a sentence in it."""
    soup = BeautifulSoup(html, "html.parser")
    found = []
    for block in soup.find_all(["li", "p"]):
        if block.find(["li", "p"]):  # only innermost blocks
            continue
        letters = OPTION_IN_TEXT.findall(" " + block.get_text(" "))
        if letters:
            found.append(letters)
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[f"{p.parent.name}/{p.stem}" for p in NOTEBOOKS])
def test_quiz_options_render_on_their_own_lines(path):
    nb = nbformat.read(path, as_version=4)
    for index, cell, letters in quiz_cells(nb):
        blocks = blocks_with_options(render(cell.source))
        merged = [b for b in blocks if len(b) > 1]
        assert not merged, f"cell {index}: options {merged[0]} render as one paragraph; write them as a list (- **a)** ...)"
        assert sum(len(b) for b in blocks) >= len(letters), f"cell {index}: an option line is not rendered"


def test_the_check_catches_run_on_options():
    source = "Which one?\n\na) first\nb) second\n\nSet `answer`."
    assert [b for b in blocks_with_options(render(source)) if len(b) > 1] == [["a", "b"]]
    fixed = "Which one?\n\n- **a)** first\n- **b)** second\n\nSet `answer`."
    assert blocks_with_options(render(fixed)) == [["a"], ["b"]]

"""The multi-format corpus of notebook 10, made from the course's own text and Python's standard library.

    python -m utils.rag.corpus            # (re)write data/rag_corpus/ (deterministic: same bytes every time)
    python -m utils.rag.corpus --check    # exit 1 if the committed files differ from what the command would write

What it writes (every file has a provenance line in ``data/rag_corpus/README.md``):

- ``norms_and_similarity.pdf`` - the prose of notebook 02, typeset as a real multi-page PDF with a text layer
  (matplotlib's PDF backend, TrueType fonts, so ``pypdf`` can extract the words);
- ``tokenization.md`` - the prose of notebook 03 as Markdown;
- ``scalars_to_tensors.html`` - the prose of notebook 01 rendered to HTML (``markdown-it-py``);
- ``code/*.py`` - three small modules of the standard library (``bisect``, ``heapq``, ``colorsys``);
- ``python_docs/*.txt`` - a few topics of Python's reference documentation (``pydoc_data.topics``) as plain text.

The notebooks' prose is read from ``solutions/`` when the command runs; the committed snapshot keeps the notebook's
outputs stable when a chapter is later edited. :func:`labelled_queries` reads ``queries.json``, the hand-written
questions with the passage that answers each; :func:`write_bad_documents` makes the broken files of section 3.
"""
from __future__ import annotations

import argparse
import io
import json
import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIR = ROOT / "data" / "rag_corpus"
PDF_SOURCE = "02_norms_distances_similarity"
MARKDOWN_SOURCE = "03_tokenization"
HTML_SOURCE = "01_scalars_to_tensors"
CODE_MODULES = ("bisect", "heapq", "colorsys")
DOC_TOPICS = ("for", "while", "break", "continue", "with", "lambda")


def notebook_markdown(name: str) -> str:
    """The markdown cells of ``solutions/<name>.ipynb`` joined by blank lines (the prose of a chapter)."""
    path = ROOT / "solutions" / f"{name}.ipynb"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n\n".join("".join(c["source"]).strip() for c in cells if c["cell_type"] == "markdown") + "\n"


# ---------------------------------------------------------------------------------------------------------------
# PDF: typeset text onto A4 pages with matplotlib (no extra dependency), one new page per "## " section

LINES_PER_PAGE, CHARS_PER_LINE = 58, 100


_NEW_LINE = re.compile(r"^(#|- |> |\||```|\d+\. |\$\$)")  # lines that start a block in Markdown


def reflow(markdown: str) -> str:
    r"""Join the lines of each paragraph (notebook cells are hard-wrapped at ~115 characters), keeping headings,
    list items, quotes, tables and code lines on lines of their own.

    >>> reflow("one\ntwo\n\n- a\n  b\n- c")
    'one two\n\n- a b\n- c'
    """
    out: list[str] = []
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
            out.append(line)
        elif (in_code or not line.strip() or not out or not out[-1].strip() or _NEW_LINE.match(line)
              or out[-1].startswith(("#", "|", "```"))):
            out.append(line)
        else:
            out[-1] = out[-1].rstrip() + " " + line.strip()
    return "\n".join(out)


def layout_pages(markdown: str) -> list[list[str]]:
    """Wrap the text into lines and pages: a new page starts at every ``## `` heading or when a page is full.

    >>> pages = layout_pages("# Title\\nintro\\n## 1. A\\ntext a\\n## 2. B\\ntext b")
    >>> [page[0] for page in pages]
    ['# Title', '## 1. A', '## 2. B']
    """
    pages: list[list[str]] = [[]]
    for raw in reflow(markdown).splitlines():
        if raw.startswith("## ") and pages[-1]:
            pages.append([])
        wrapped = textwrap.wrap(raw, CHARS_PER_LINE, replace_whitespace=False, drop_whitespace=True) or [""]
        for line in wrapped:
            if len(pages[-1]) >= LINES_PER_PAGE:
                pages.append([])
            pages[-1].append(line)
    return [page for page in pages if any(line.strip() for line in page)]


def write_pdf(pages: list[list[str]], title: str) -> bytes:
    """Typeset ``pages`` (lists of lines) into PDF bytes; the same input always gives the same bytes."""
    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    buffer = io.BytesIO()
    with matplotlib.rc_context({"pdf.fonttype": 42, "svg.hashsalt": "course"}):  # 42 = TrueType: extractable text
        with PdfPages(buffer, metadata={"Title": title, "Creator": "utils.rag.corpus", "Producer": "matplotlib",
                                        "CreationDate": None}) as pdf:
            for number, lines in enumerate(pages, start=1):
                fig = Figure(figsize=(8.27, 11.69))  # A4 in inches
                fig.text(0.07, 0.96, "\n".join(lines), fontsize=8.5, family="DejaVu Sans", va="top",
                         linespacing=1.35, parse_math=False)
                fig.text(0.5, 0.025, f"{title} - page {number}", fontsize=8, ha="center")
                pdf.savefig(fig)
    return buffer.getvalue()


def markdown_to_html(markdown: str, title: str) -> str:
    """A complete HTML page from Markdown (``markdown-it-py``, CommonMark plus tables).

    >>> "<h2>1. A</h2>" in markdown_to_html("## 1. A\\ntext", "t")
    True
    """
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(markdown)
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{title}</title></head>\n"
            f"<body>\n{body}</body>\n</html>\n")


def corpus_files() -> dict[str, bytes]:
    """Relative path -> content of every file of the corpus, built from the course and the standard library."""
    import inspect
    import importlib
    from pydoc_data.topics import topics

    files = {
        "norms_and_similarity.pdf": write_pdf(layout_pages(notebook_markdown(PDF_SOURCE)),
                                              "Norms, distances and similarity"),
        "tokenization.md": notebook_markdown(MARKDOWN_SOURCE).encode(),
        "scalars_to_tensors.html": markdown_to_html(notebook_markdown(HTML_SOURCE),
                                                       "Scalars, vectors, matrices, tensors").encode(),
    }
    for name in CODE_MODULES:
        files[f"code/{name}.py"] = inspect.getsource(importlib.import_module(name)).encode()
    for topic in DOC_TOPICS:
        files[f"python_docs/{topic}.txt"] = topics[topic].encode()
    return files


def corpus_paths(folder: Path | str = CORPUS_DIR) -> list[Path]:
    """The corpus files in a stable order (the labelled queries and the README are not documents)."""
    folder = Path(folder)
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in {"queries.json", "README.md"})


# ---------------------------------------------------------------------------------------------------------------
# Labelled queries and bad documents

SPLITS = ("dev", "test")


def labelled_queries(folder: Path | str = CORPUS_DIR, split: str | None = None) -> list[dict]:
    """The hand-written questions: each has ``query``, ``source`` (relative path), ``contains`` (a phrase of the
    answering passage) and ``split``. A chunk is relevant when it comes from ``source`` and contains ``contains``.

    ``split="dev"`` keeps the queries used to compare and tune, ``split="test"`` the held-out ones (scored once, for
    the system chosen on dev); None returns all of them, in file order.
    """
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
    queries = json.loads((Path(folder) / "queries.json").read_text(encoding="utf-8"))
    return queries if split is None else [q for q in queries if q.get("split") == split]


def write_bad_documents(folder: Path | str, huge_mb: float = 3.0) -> list[Path]:
    """Write one of each kind of broken document into ``folder``; return their paths.

    empty text, a PDF cut in half (corrupt), a password-protected PDF, binary bytes named ``.txt``, a Latin-1 file
    named ``.md`` (not UTF-8), and a text file of ``huge_mb`` MB (over the ingestion size limit).
    """
    import pypdf

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pdf = write_pdf([["A page that will be cut in half."], ["Second page."]], "broken")
    writer = pypdf.PdfWriter()
    writer.append(pypdf.PdfReader(io.BytesIO(pdf)))
    writer.encrypt("course-password", algorithm="RC4-128")
    locked = io.BytesIO()
    writer.write(locked)
    contents = {
        "empty.txt": b"",
        "corrupt.pdf": pdf[: len(pdf) // 2],
        "encrypted.pdf": locked.getvalue(),
        "binary.txt": bytes(range(256)) * 8,
        "latin1.md": "# Caf\u00e9\n\nUne cr\u00e8me br\u00fbl\u00e9e, s'il vous pla\u00eet.\n".encode("latin-1"),
        "huge.txt": b"word " * int(huge_mb * 2**20 / 5),
    }
    paths = []
    for name, data in contents.items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    return paths


# ---------------------------------------------------------------------------------------------------------------
# Command line

def write_corpus(folder: Path | str = CORPUS_DIR) -> list[Path]:
    """Write every corpus file under ``folder`` (queries.json and README.md are hand-written and left alone)."""
    folder = Path(folder)
    written = []
    for relative, data in corpus_files().items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare with the committed files")
    args = parser.parse_args(argv)
    if args.check:
        stale = [rel for rel, data in corpus_files().items()
                 if not (CORPUS_DIR / rel).exists() or (CORPUS_DIR / rel).read_bytes() != data]
        for rel in stale:
            print(f"differs from a fresh build: data/rag_corpus/{rel}")
        return 1 if stale else 0
    for path in write_corpus():
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

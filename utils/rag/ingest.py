"""Ingestion: files in several formats -> chunks that remember where they came from -> a vector database.

- :class:`DocChunk` - notebook 07's :class:`~utils.retrieval.Chunk` plus the document type and a locator
  (page for PDFs, section for Markdown/HTML, line range for code and text), so an answer can cite "page 4";
- :func:`chunk_python` - split source code at function and class boundaries with :mod:`ast`;
- :func:`~utils.rag.tokens.fit_to_tokens` (from :mod:`utils.rag.tokens`, importable from here) - cut every chunk
  longer than the encoder reads (MiniLM: 256 word pieces with [CLS] and [SEP]) into pieces that fit;
- :func:`parse_file` - one file -> its chunks, or :class:`BadDocument` with a one-line reason;
- :func:`ingest` - many files into a :class:`~utils.rag.vectordb.VectorStore`: a bad file is reported in one line
  and skipped, re-ingesting a file replaces its chunks (idempotent), nothing else in the store is touched.
"""
from __future__ import annotations

import ast
import io
import logging
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from utils.rag.tokens import MAX_TOKENS, fit_to_tokens, minilm_tokens  # noqa: F401 (notebook 10 uses them here)
from utils.retrieval import Chunk, chunk_words

MAX_BYTES = 2 * 2**20          # larger files are refused: a 2 MB text is ~350k words, a book, not a document
CHUNK_WORDS, OVERLAP_WORDS = 120, 20
MAX_CODE_LINES = 60            # a longer class is split into its methods
TYPES = {".pdf": "pdf", ".py": "code", ".md": "markdown", ".html": "html", ".htm": "html", ".txt": "text"}


class BadDocument(ValueError):
    """A file that cannot be ingested; the message is the one line the report shows."""


@dataclass(frozen=True)
class DocChunk(Chunk):
    """A chunk with its document type and locator, e.g. ``DocChunk('a.pdf', 0, 'text', 'pdf', page=3)``."""
    doc_type: str = "text"
    page: int | None = None
    section: str | None = None
    line_start: int | None = None
    line_end: int | None = None

    @property
    def chunk_id(self) -> str:
        return f"{self.source}#{self.index}"

    def citation(self) -> str:
        """Where the chunk is, for a reader: a page for PDFs, a section for Markdown/HTML, lines for code and text.

        >>> DocChunk("code/heapq.py", 2, "...", "code", section="heappush", line_start=130, line_end=135).citation()
        'code/heapq.py, lines 130-135 (heappush)'
        >>> DocChunk("notes.pdf", 7, "...", "pdf", page=4, section="3. Distances").citation()
        'notes.pdf, page 4'
        """
        if self.page is not None:
            return f"{self.source}, page {self.page}"
        if self.doc_type in ("markdown", "html") and self.section:
            return f"{self.source}, section '{self.section}'"
        text = self.source if self.line_start is None else f"{self.source}, lines {self.line_start}-{self.line_end}"
        return f"{text} ({self.section})" if self.section else text

    def payload(self) -> dict:
        """The metadata stored next to the vector in the database (everything but nothing computed)."""
        return {"source": self.source, "index": self.index, "text": self.text, "doc_type": self.doc_type,
                "page": self.page, "section": self.section, "line_start": self.line_start,
                "line_end": self.line_end}

    @classmethod
    def from_payload(cls, payload: dict) -> "DocChunk":
        keys = ("source", "index", "text", "doc_type", "page", "section", "line_start", "line_end")
        return cls(**{k: payload.get(k) for k in keys})


# ---------------------------------------------------------------------------------------------------------------
# Code: one chunk per top-level function or class (long classes: one per method)

def _node_start(node) -> int:
    """First line of a definition, decorators included (they belong to it)."""
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])


def chunk_python(code: str, source: str = "<string>", max_lines: int = MAX_CODE_LINES) -> list[DocChunk]:
    """Split Python source at function and class boundaries; line numbers are 1-based and inclusive.

    Each top-level ``def``/``class`` becomes one chunk named after it; a class longer than ``max_lines`` becomes one
    chunk per method (``Class.method``) plus one for the class line and its docstring. Everything else (imports,
    constants, the module docstring) is gathered into one ``<module>`` chunk so no line is lost.

    >>> code = "import os\\n\\ndef a():\\n    return 1\\n\\nclass B:\\n    def c(self):\\n        pass\\n"
    >>> [(c.section, c.line_start, c.line_end) for c in chunk_python(code)]
    [('<module>', 1, 1), ('a', 3, 4), ('B', 6, 8)]
    """
    if not isinstance(code, str):
        raise TypeError(f"code must be a string, got {type(code).__name__}")
    try:
        tree = ast.parse(code)
    except SyntaxError as err:
        raise BadDocument(f"not valid Python (line {err.lineno}: {err.msg})") from None
    lines = code.splitlines()
    pieces: list[tuple[str, int, int]] = []  # (name, first line, last line), 1-based inclusive
    covered: set[int] = set()
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        start, end = _node_start(node), node.end_lineno
        covered.update(range(start, end + 1))
        methods = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        if isinstance(node, ast.ClassDef) and end - start + 1 > max_lines and methods:
            head_end = _node_start(methods[0]) - 1
            pieces.append((node.name, start, head_end))
            pieces += [(f"{node.name}.{m.name}", _node_start(m), m.end_lineno) for m in methods]
        else:
            pieces.append((node.name, start, end))
    # the lines outside every definition, as contiguous runs (so a citation "lines a-b" holds only this code)
    run: list[int] = []
    for number in range(1, len(lines) + 2):
        if number <= len(lines) and number not in covered:
            run.append(number)
            continue
        while run and not lines[run[-1] - 1].strip():
            run.pop()
        while run and not lines[run[0] - 1].strip():
            run.pop(0)
        if run:
            pieces.append(("<module>", run[0], run[-1]))
        run = []
    chunks: list[DocChunk] = []
    for name, start, end in sorted(pieces, key=lambda p: p[1]):
        # a piece longer than max_lines (a long docstring, a long function) is cut into windows of max_lines lines
        for first in range(start, end + 1, max_lines):
            last = min(first + max_lines - 1, end)
            text = "\n".join(lines[first - 1:last])
            chunks.append(DocChunk(source, len(chunks), text, "code", section=name, line_start=first, line_end=last))
    return chunks


# ---------------------------------------------------------------------------------------------------------------
# Prose: sections (Markdown headings, HTML h1-h3), paragraphs of text, PDF pages -> word windows

def _windows(source, doc_type, text, start_index, size, overlap, **where) -> list[DocChunk]:
    return [DocChunk(source, start_index + i, piece, doc_type, **where)
            for i, piece in enumerate(chunk_words(text, size, overlap))]


def chunk_markdown(text: str, source: str, size: int = CHUNK_WORDS, overlap: int = OVERLAP_WORDS) -> list[DocChunk]:
    """Cut at headings (``#`` to ``###``, outside code fences), then into word windows; each chunk keeps its
    section title and the line where the section starts.

    >>> [(c.section, c.line_start, c.text) for c in chunk_markdown("# T\\nintro\\n## A\\nalpha beta", "x.md")]
    [('T', 1, 'T intro'), ('A', 3, 'A alpha beta')]
    >>> chunk_markdown("# T\\nintro", "x.md")[0].citation()
    "x.md, section 'T'"
    """
    sections: list[tuple[str, int, list[str]]] = []
    in_code = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("```"):
            in_code = not in_code
        heading = not in_code and line.startswith("#") and line.lstrip("#").startswith(" ") and \
            len(line) - len(line.lstrip("#")) <= 3
        if heading or not sections:
            title = line.lstrip("#").strip() if heading else ""
            sections.append((title, number, []))
        sections[-1][2].append(line.lstrip("#").strip() if heading else line)
    chunks: list[DocChunk] = []
    for title, start, body in sections:
        chunks += _windows(source, "markdown", "\n".join(body), len(chunks), size, overlap,
                           section=title or None, line_start=start, line_end=start + len(body) - 1)
    return chunks


class _HTMLSections(HTMLParser):
    """Collect the visible text of an HTML page, split at h1-h3 headings (script, style and the
    page title are skipped)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.sections: list[list] = [["", 1, []]]  # [title, line, words]
        self._heading: list[str] | None = None
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("h1", "h2", "h3"):
            self._heading = []
            self.sections.append(["", self.getpos()[0], []])
        elif tag in ("script", "style", "title"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3") and self._heading is not None:
            self.sections[-1][0] = " ".join(" ".join(self._heading).split())
            self._heading = None
        elif tag in ("script", "style", "title") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if self._skip:
            return
        if self._heading is not None:
            self._heading.append(data)
        self.sections[-1][2].append(data)


def chunk_html(text: str, source: str, size: int = CHUNK_WORDS, overlap: int = OVERLAP_WORDS) -> list[DocChunk]:
    """Visible text of an HTML page cut at h1-h3 headings, then into word windows (section = heading text).

    >>> [(c.section, c.text) for c in chunk_html("<h1>T</h1><p>intro</p><h2>A &amp; B</h2><p>x</p>", "x.html")]
    [('T', 'T intro'), ('A & B', 'A & B x')]
    """
    parser = _HTMLSections()
    parser.feed(text)
    parser.close()
    chunks: list[DocChunk] = []
    for title, line, words in parser.sections:
        chunks += _windows(source, "html", " ".join(words), len(chunks), size, overlap,
                           section=title or None)
    return [c for c in chunks if c.text.strip()]


def chunk_text(text: str, source: str, size: int = CHUNK_WORDS) -> list[DocChunk]:
    """Plain text: whole paragraphs (blank-line separated) packed into chunks of about ``size`` words, with lines.

    >>> [(c.line_start, c.line_end, c.text) for c in chunk_text("a b\\n\\nc d\\ne", "t.txt", size=3)]
    [(1, 1, 'a b'), (3, 4, 'c d e')]
    """
    paragraphs: list[tuple[int, int, str]] = []
    start = None
    lines = text.splitlines()
    for number, line in enumerate(lines + [""], start=1):
        if line.strip() and start is None:
            start = number
        elif not line.strip() and start is not None:
            paragraphs.append((start, number - 1, " ".join(" ".join(lines[start - 1:number - 1]).split())))
            start = None
    chunks: list[DocChunk] = []
    group: list[tuple[int, int, str]] = []
    for para in paragraphs + [None]:
        words = sum(len(p[2].split()) for p in group)
        if group and (para is None or words + len(para[2].split()) > size):
            chunks.append(DocChunk(source, len(chunks), " ".join(p[2] for p in group), "text",
                                   line_start=group[0][0], line_end=group[-1][1]))
            group = []
        if para is not None:
            group.append(para)
    return chunks


def chunk_pdf(data: bytes, source: str, size: int = CHUNK_WORDS, overlap: int = OVERLAP_WORDS) -> list[DocChunk]:
    """Text layer of every page (``pypdf``) in word windows; each chunk keeps its page number (1-based) and the
    last heading seen (a line starting with '#')."""
    import pypdf

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # pypdf logs repairs of damaged files as warnings
    if not data.startswith(b"%PDF"):
        raise BadDocument("not a PDF (the file does not start with %PDF)")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise BadDocument("encrypted PDF: it needs a password, skipped")
        pages = [page.extract_text() or "" for page in reader.pages]
    except BadDocument:
        raise
    except Exception as err:  # pypdf raises many kinds of errors for damaged files
        raise BadDocument(f"corrupt PDF ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
                          ) from None
    chunks: list[DocChunk] = []
    section = None
    for number, page_text in enumerate(pages, start=1):
        headings = [line.lstrip("#").strip() for line in page_text.splitlines() if line.startswith("#")]
        section = headings[0] if headings else section
        chunks += _windows(source, "pdf", page_text, len(chunks), size, overlap, page=number, section=section)
    return chunks


# ---------------------------------------------------------------------------------------------------------------
# One file, many files

def read_text(data: bytes) -> str:
    """Bytes -> text, or BadDocument for binary content (NUL bytes) or text that is not UTF-8.

    >>> read_text("caf\\u00e9".encode())
    'café'
    >>> try:
    ...     read_text("caf\\u00e9".encode("latin-1"))
    ... except BadDocument as err:
    ...     print(err)
    not UTF-8 (byte 0xe9 at position 3): re-save it as UTF-8
    """
    if b"\x00" in data[:8192]:
        raise BadDocument("binary content (NUL bytes), not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadDocument(f"not UTF-8 (byte 0x{data[err.start]:02x} at position {err.start}): re-save it as UTF-8"
                          ) from None


def parse_file(path, root=None, max_bytes: int = MAX_BYTES, max_tokens: int | None = None) -> list[DocChunk]:
    """One file -> its chunks (source = path relative to ``root``), or BadDocument with a one-line reason.

    ``max_tokens``: cut chunks longer than that many MiniLM word pieces (:func:`fit_to_tokens`; notebook 10 uses
    :data:`MAX_TOKENS`, what MiniLM reads); None keeps the chunks as the format's parser cut them."""
    path = Path(path)
    source = path.relative_to(root).as_posix() if root else path.name
    doc_type = TYPES.get(path.suffix.lower())
    if doc_type is None:
        raise BadDocument(f"unsupported file type {path.suffix or '(none)'!r}: expected one of {', '.join(TYPES)}")
    size = path.stat().st_size
    if size > max_bytes:
        raise BadDocument(f"too large ({size / 2**20:.1f} MB, limit {max_bytes / 2**20:.0f} MB): split it first")
    data = path.read_bytes()
    if doc_type == "pdf":
        chunks = chunk_pdf(data, source)
    else:
        text = read_text(data)
        chunker = {"code": chunk_python, "markdown": chunk_markdown, "html": chunk_html, "text": chunk_text}
        chunks = chunker[doc_type](text, source)
    if not any(c.text.strip() for c in chunks):
        raise BadDocument("empty: no text to index")
    return chunks if max_tokens is None else fit_to_tokens(chunks, max_tokens, overlap=OVERLAP_WORDS)


@dataclass
class IngestReport:
    """What :func:`ingest` did: chunks added per source, and one line per skipped file."""
    added: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        ok = [f"ok       {source}: {n} chunks" for source, n in self.added.items()]
        return ok + [f"skipped  {line}" for line in self.skipped]


def ingest(paths, store, embed, root=None, max_bytes: int = MAX_BYTES, parse=None,
           max_tokens: int | None = None) -> IngestReport:
    """Parse, embed and store every file; never stops the batch for a bad file.

    ``embed`` maps a list of texts to an (n, d) array. A file's old chunks are replaced only once its new chunks
    and vectors are ready, so a failure leaves what was stored before untouched. ``parse`` replaces
    :func:`parse_file` (same arguments), e.g. notebook 12's :func:`utils.ocr.parse_file`, which reads images too.
    ``max_tokens``: cut the parsed chunks to that many MiniLM word pieces (:func:`fit_to_tokens`).
    """
    parse = parse_file if parse is None else parse
    report = IngestReport()
    for path in paths:
        name = Path(path).relative_to(root).as_posix() if root else Path(path).name
        try:
            chunks = parse(path, root=root, max_bytes=max_bytes)
        except BadDocument as err:
            report.skipped.append(f"{name}: {err}")
            continue
        if max_tokens is not None:
            chunks = fit_to_tokens(chunks, max_tokens, overlap=OVERLAP_WORDS)
        vectors = embed([c.text for c in chunks])
        store.replace_source(chunks[0].source, chunks, vectors)
        report.added[chunks[0].source] = len(chunks)
    return report

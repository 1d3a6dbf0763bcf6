"""Pictures inside documents (notebook 12): OCR turns an image or a scanned page into text lines with boxes, and the
lines become notebook 10's chunks, each citing its page and the region of the page it came from.

- :func:`engine_status` / :func:`pick_engine` - which OCR engines this machine has (``tesseract``: the
  ``tesseract-ocr`` program of Debian, Homebrew or the Windows installer, the course's choice; ``rapidocr``: a pip
  package whose wheel carries its ONNX models, optional), with the reason when one is missing;
- :func:`read_lines` - an image -> :class:`TextLine` (text, box, confidence), top to bottom;
- :func:`group_regions` - lines -> paragraphs (:class:`Region`): consecutive lines closer than one line height;
- :func:`chunk_image` - an image -> :class:`ImageChunk` (notebook 10's ``DocChunk`` plus a region), cited as
  ``"scan.pdf, page 2, region (40, 118)-(790, 260)"``;
- :func:`parse_file` / :func:`ingest` - notebook 10's ingestion with images (``.png``, ``.jpg``) and scanned PDF
  pages (pages without a text layer are OCR-ed); an unreadable image is one line in the report;
- :func:`render_page` / :func:`scanned_pdf` - pages with KNOWN text, drawn as a scanner would deliver them (grey
  noise, a little blur), so an engine can be scored; :func:`char_error_rate` scores it.

>>> char_error_rate("cosine similarity", "cosine simi1arity")   # one wrong character out of 17
0.0588
>>> Region("a b", (0, 0, 10, 5), 1).box
(0, 0, 10, 5)
"""
from __future__ import annotations

import functools
import io
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.rag import ingest as rag_ingest
from utils.rag.ingest import CHUNK_WORDS, BadDocument, DocChunk, IngestReport
from utils.retrieval import chunk_words

ENGINES = ("tesseract", "rapidocr")     # preference order: measured in benchmarks/bench_ocr.py
IMAGE_TYPES = (".png", ".jpg", ".jpeg")
#: what to do when an engine is missing, per operating system (the notebook prints them; ``make lab`` prints the
#: tesseract line of the learner's own system, from course.py)
INSTALL_HINTS = {
    "rapidocr": "optional, not in requirements.txt: pip install rapidocr-onnxruntime==1.4.4 (its wheel carries its "
                "models)",
    "tesseract": "Debian/Ubuntu: sudo apt-get install tesseract-ocr; macOS: brew install tesseract; "
                 "Windows: winget install UB-Mannheim.TesseractOCR (the UB Mannheim installer), then add its folder "
                 "to PATH",
}


@dataclass(frozen=True)
class TextLine:
    """One line of text found on an image: its text, box (x0, y0, x1, y1) in pixels, and confidence in [0, 1]."""
    text: str
    box: tuple[int, int, int, int]
    score: float


@dataclass(frozen=True)
class Region:
    """A paragraph of an image: its text, the box around its lines, and how many lines it has."""
    text: str
    box: tuple[int, int, int, int]
    n_lines: int


@dataclass(frozen=True)
class ImageChunk(DocChunk):
    """A chunk read from a picture: notebook 10's ``DocChunk`` plus the region (x0, y0, x1, y1) of the page it is on.

    >>> ImageChunk("scan.pdf", 3, "...", "scan", page=2, region=(40, 118, 790, 260)).citation()
    'scan.pdf, page 2, region (40, 118)-(790, 260)'
    >>> ImageChunk("fig.png", 0, "...", "image", region=(0, 0, 50, 20)).citation()
    'fig.png, region (0, 0)-(50, 20)'
    """
    region: tuple[int, int, int, int] | None = None

    def citation(self) -> str:
        where = self.source if self.page is None else f"{self.source}, page {self.page}"
        if self.region is None:
            return where
        x0, y0, x1, y1 = self.region
        return f"{where}, region ({x0}, {y0})-({x1}, {y1})"

    def payload(self) -> dict:
        return {**super().payload(), "region": None if self.region is None else list(self.region)}


# ---------------------------------------------------------------------------------------------------------------
# Engines

def engine_status() -> dict[str, str]:
    """Engine name -> "ok", or one line saying what is missing and how to install it.

    Looked up afresh on each call (cheap: an import check and a PATH look-up)."""
    status = {}
    try:
        import rapidocr_onnxruntime  # noqa: F401
        status["rapidocr"] = "ok"
    except Exception as err:  # noqa: BLE001 - a broken install (missing libGL...) is "missing" too
        status["rapidocr"] = f"missing ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}): " \
                             f"{INSTALL_HINTS['rapidocr']}"
    status["tesseract"] = "ok" if shutil.which("tesseract") else f"missing (no `tesseract` on PATH): " \
                                                                  f"{INSTALL_HINTS['tesseract']}"
    return status


def pick_engine(prefer=ENGINES) -> str | None:
    """The first engine of ``prefer`` this machine has, or None (then OCR is skipped and the report says why)."""
    status = engine_status()
    return next((name for name in prefer if status.get(name) == "ok"), None)


@functools.lru_cache(maxsize=1)
def _rapidocr():
    import logging

    from rapidocr_onnxruntime import RapidOCR
    logging.getLogger("RapidOCR").setLevel(logging.ERROR)   # it logs every call at INFO level
    threads = int(os.environ.get("COURSE_OCR_THREADS", "2"))
    return RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)


def _as_image(image):
    from PIL import Image

    if isinstance(image, Image.Image):
        return image
    if isinstance(image, np.ndarray):
        return Image.fromarray(image)
    raise TypeError(f"image must be a PIL image or a numpy array, got {type(image).__name__}")


def _read_rapidocr(image) -> list[TextLine]:
    rgb = np.asarray(image.convert("RGB"))[:, :, ::-1].copy()          # (H, W, 3) BGR, as OpenCV reads files
    result, _ = _rapidocr()(rgb)
    lines = []
    for quad, text, score in result or []:
        xs, ys = [p[0] for p in quad], [p[1] for p in quad]
        lines.append(TextLine(text.strip(), (int(min(xs)), int(min(ys)), int(max(xs)), int(max(ys))), float(score)))
    return lines


def _read_tesseract(image) -> list[TextLine]:
    with tempfile.TemporaryDirectory(prefix="ocr-") as tmp:
        path = Path(tmp) / "page.png"
        image.convert("L").save(path)
        run = subprocess.run(["tesseract", str(path), "stdout", "--psm", "3", "tsv"], capture_output=True,
                             text=True, timeout=120, env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    if run.returncode != 0:
        raise RuntimeError(f"tesseract failed: {run.stderr.strip().splitlines()[-1] if run.stderr.strip() else ''}")
    words: dict[tuple, list] = {}
    for row in run.stdout.splitlines()[1:]:
        f = row.split("\t")
        if len(f) != 12 or f[0] != "5" or not f[11].strip():             # level 5 = one word
            continue
        key = (int(f[2]), int(f[3]), int(f[4]))                          # block, paragraph, line
        x, y, w, h, conf = int(f[6]), int(f[7]), int(f[8]), int(f[9]), float(f[10])
        words.setdefault(key, []).append((x, y, x + w, y + h, conf, f[11]))
    lines = []
    for ws in words.values():
        box = (min(w[0] for w in ws), min(w[1] for w in ws), max(w[2] for w in ws), max(w[3] for w in ws))
        lines.append(TextLine(" ".join(w[5] for w in ws), box, float(np.mean([w[4] for w in ws])) / 100))
    return lines


def read_lines(image, engine: str | None = None) -> list[TextLine]:
    """OCR an image (PIL or numpy) -> its lines of text, top to bottom then left to right.

    ``engine``: "rapidocr" or "tesseract"; None picks the first available (:func:`pick_engine`). Raises
    RuntimeError naming the missing engine and how to install it.
    """
    image = _as_image(image)
    engine = engine or pick_engine()
    if engine is None:
        raise RuntimeError("no OCR engine: " + "; ".join(engine_status().values()))
    if engine not in ENGINES:
        raise ValueError(f"unknown OCR engine {engine!r}: expected one of {', '.join(ENGINES)}")
    status = engine_status()[engine]
    if status != "ok":
        raise RuntimeError(f"OCR engine {engine} is {status}")
    lines = _read_rapidocr(image) if engine == "rapidocr" else _read_tesseract(image)
    return sorted((ln for ln in lines if ln.text), key=lambda ln: (ln.box[1], ln.box[0]))


def group_regions(lines, gap: float = 0.8) -> list[Region]:
    """Consecutive lines (top to bottom) form one region while the blank between two lines is under ``gap`` times
    the height of a line; a larger blank starts a new paragraph.

    >>> lines = [TextLine("a", (0, 0, 50, 10), 1.0), TextLine("b", (0, 12, 40, 22), 1.0),
    ...          TextLine("c", (0, 40, 30, 50), 1.0)]
    >>> [(r.text, r.box) for r in group_regions(lines)]
    [('a b', (0, 0, 50, 22)), ('c', (0, 40, 30, 50))]
    """
    regions: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda ln: (ln.box[1], ln.box[0])):
        if regions:
            last = regions[-1][-1]
            height = last.box[3] - last.box[1]
            if line.box[1] - last.box[3] < gap * height:
                regions[-1].append(line)
                continue
        regions.append([line])
    out = []
    for group in regions:
        box = (min(ln.box[0] for ln in group), min(ln.box[1] for ln in group),
               max(ln.box[2] for ln in group), max(ln.box[3] for ln in group))
        out.append(Region(" ".join(ln.text for ln in group), box, len(group)))
    return out


def chunk_image(image, source: str, page: int | None = None, engine: str | None = None,
                size: int = CHUNK_WORDS, start_index: int = 0, doc_type: str = "image") -> list[ImageChunk]:
    """An image -> one chunk per paragraph region (a region longer than ``size`` words is cut into windows that
    all cite the same region). ``page`` (1-based) for a page of a scanned document."""
    chunks: list[ImageChunk] = []
    for region in group_regions(read_lines(image, engine)):
        for piece in chunk_words(region.text, size, 0):
            chunks.append(ImageChunk(source, start_index + len(chunks), piece, doc_type, page=page,
                                     region=region.box))
    return chunks


# ---------------------------------------------------------------------------------------------------------------
# Files: images and scanned PDFs join notebook 10's formats

def _open_image(data: bytes):
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except UnidentifiedImageError:
        raise BadDocument("not a readable image (Pillow cannot identify its format)") from None
    except (OSError, SyntaxError, ValueError) as err:          # truncated or damaged image data
        raise BadDocument(f"not a readable image ({type(err).__name__}: "
                          f"{str(err).splitlines()[0] if str(err) else 'damaged data'})") from None
    return image


def chunk_scanned_pdf(data: bytes, source: str, engine: str | None = None) -> list[DocChunk]:
    """A PDF whose pages may be pictures: pages with a text layer are read as in notebook 10 (``chunk_pdf``), the
    others are OCR-ed from their images, each chunk citing page and region."""
    import pypdf

    chunks = rag_ingest.chunk_pdf(data, source)                        # raises BadDocument for broken PDFs
    with_text = {c.page for c in chunks if c.text.strip()}
    reader = pypdf.PdfReader(io.BytesIO(data))
    out = [c for c in chunks if c.text.strip()]
    for number, page in enumerate(reader.pages, start=1):
        if number in with_text:
            continue
        for picture in page.images:
            out += chunk_image(picture.image, source, page=number, engine=engine, start_index=len(out),
                               doc_type="scan")
    return sorted(out, key=lambda c: (c.page or 0, c.index))


def parse_file(path, root=None, max_bytes: int = rag_ingest.MAX_BYTES, engine: str | None = None) -> list[DocChunk]:
    """Notebook 10's :func:`~utils.rag.ingest.parse_file` plus images and scanned PDF pages, or BadDocument.

    With no OCR engine, images and picture-only pages fail with one line naming what to install."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_TYPES and suffix != ".pdf":
        return rag_ingest.parse_file(path, root=root, max_bytes=max_bytes)
    source = path.relative_to(root).as_posix() if root else path.name
    size = path.stat().st_size
    if size > max_bytes:
        raise BadDocument(f"too large ({size / 2**20:.1f} MB, limit {max_bytes / 2**20:.0f} MB): split it first")
    data = path.read_bytes()
    engine = engine or pick_engine()
    if suffix == ".pdf":
        chunks = rag_ingest.chunk_pdf(data, source)
        if all(c.text.strip() for c in chunks) and chunks:
            return chunks
        if engine is None:
            if any(c.text.strip() for c in chunks):
                return [c for c in chunks if c.text.strip()]
            raise BadDocument("scanned PDF (no text layer) and no OCR engine: install tesseract ("
                              + INSTALL_HINTS["tesseract"] + ")")
        chunks = chunk_scanned_pdf(data, source, engine)
    else:
        image = _open_image(data)
        if engine is None:
            raise BadDocument("an image needs an OCR engine: install tesseract (" + INSTALL_HINTS["tesseract"] + ")")
        chunks = chunk_image(image, source, engine=engine)
    if not any(c.text.strip() for c in chunks):
        raise BadDocument("no text found by OCR")
    return chunks


def ingest(paths, store, embed, root=None, max_bytes: int = rag_ingest.MAX_BYTES,
           engine: str | None = None) -> IngestReport:
    """Notebook 10's :func:`~utils.rag.ingest.ingest` with :func:`parse_file` above: a bad file or image is one line
    of the report and the rest is ingested."""
    return rag_ingest.ingest(paths, store, embed, root=root, max_bytes=max_bytes,
                             parse=functools.partial(parse_file, engine=engine))


# ---------------------------------------------------------------------------------------------------------------
# Pages with known text, to score engines

def char_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance between the two texts (white space runs count as one space) / reference length,
    rounded to 4 digits. 0 is perfect; it can exceed 1 when the hypothesis adds much text.

    >>> char_error_rate("abc", "abc"), char_error_rate("abc", "")
    (0.0, 1.0)
    """
    ref, hyp = " ".join(reference.split()), " ".join(hypothesis.split())
    if not ref:
        raise ValueError("the reference text is empty")
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        current = [i]
        for j, h in enumerate(hyp, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return round(previous[-1] / len(ref), 4)


def render_page(lines, width: int = 850, font_size: int = 20, margin: int = 40, line_gap: float = 1.45,
                seed: int = 0, noise: float = 12.0, blur: float = 0.6):
    """Draw lines of text on a white page as a scanner would deliver them -> (PIL image "L", true boxes).

    An empty string in ``lines`` leaves a blank line (a paragraph break). Pillow's own font (no system fonts),
    Gaussian grey noise of standard deviation ``noise`` and a blur of radius ``blur``, seeded: same input, same
    pixels. The boxes are (text, (x0, y0, x1, y1)) of each non-empty line.
    """
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    font = ImageFont.load_default(size=font_size)
    step = int(font_size * line_gap)
    height = 2 * margin + step * max(len(lines), 1)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    boxes = []
    for i, text in enumerate(lines):
        if text:
            xy = (margin, margin + i * step)
            draw.text(xy, text, font=font, fill=0)
            boxes.append((text, tuple(int(v) for v in draw.textbbox(xy, text, font=font))))
    if blur:
        page = page.filter(ImageFilter.GaussianBlur(blur))
    if noise:
        rng = np.random.default_rng(seed)
        pixels = np.asarray(page, dtype=np.float32) + rng.normal(0, noise, (height, width))   # (H, W)
        page = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return page, boxes


def scanned_pdf(images, dpi: int = 100) -> bytes:
    """Pages that are only pictures (no text layer), as a scanner writes them: Pillow's PDF writer.

    >>> from PIL import Image
    >>> scanned_pdf([Image.new("L", (20, 10), 255)])[:5]
    b'%PDF-'
    """
    images = list(images)
    if not images:
        raise ValueError("a PDF needs at least one page image")
    buffer = io.BytesIO()
    first, *rest = [im.convert("L") for im in images]
    first.save(buffer, format="PDF", save_all=True, append_images=rest, resolution=dpi)
    return buffer.getvalue()

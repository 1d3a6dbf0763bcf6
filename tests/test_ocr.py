"""utils.ocr: citations, regions, character error rate, scanned PDFs and bad images (no engine needed); with an
engine installed (CI installs tesseract), a rendered page is read back with a low error rate and ingested."""
import pytest

from utils import ocr
from utils.rag.ingest import BadDocument

needs_engine = pytest.mark.skipif(ocr.pick_engine() is None, reason="no OCR engine installed")


def test_char_error_rate():
    assert ocr.char_error_rate("a  b", "a b") == 0.0
    assert ocr.char_error_rate("abcd", "abxd") == 0.25
    with pytest.raises(ValueError):
        ocr.char_error_rate("", "x")


def test_group_regions_and_citation():
    lines = [ocr.TextLine("b", (0, 12, 40, 22), 1.0), ocr.TextLine("a", (0, 0, 50, 10), 1.0),
             ocr.TextLine("c", (5, 60, 30, 70), 1.0)]
    regions = ocr.group_regions(lines)
    assert [(r.text, r.box, r.n_lines) for r in regions] == [("a b", (0, 0, 50, 22), 2), ("c", (5, 60, 30, 70), 1)]
    chunk = ocr.ImageChunk("s.pdf", 0, "a b", "scan", page=2, region=regions[0].box)
    assert chunk.citation() == "s.pdf, page 2, region (0, 0)-(50, 22)"
    assert chunk.payload()["region"] == [0, 0, 50, 22]


def test_render_page_is_seeded_and_scanned_pdf_has_no_text(tmp_path):
    a, boxes = ocr.render_page(["hello world", "", "second paragraph"], seed=1)
    b, _ = ocr.render_page(["hello world", "", "second paragraph"], seed=1)
    assert a.tobytes() == b.tobytes() and [t for t, _ in boxes] == ["hello world", "second paragraph"]
    path = tmp_path / "scan.pdf"
    path.write_bytes(ocr.scanned_pdf([a, b]))
    import pypdf
    reader = pypdf.PdfReader(str(path))
    assert len(reader.pages) == 2 and not (reader.pages[0].extract_text() or "").strip()


def test_bad_image_is_one_line(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    with pytest.raises(BadDocument, match="not a readable image"):
        ocr.parse_file(bad)


def test_missing_engine_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(ocr, "pick_engine", lambda prefer=ocr.ENGINES: None)
    page, _ = ocr.render_page(["some text"])
    path = tmp_path / "page.png"
    page.save(path)
    with pytest.raises(BadDocument, match="needs an OCR engine"):
        ocr.parse_file(path)


@needs_engine
def test_engine_reads_a_rendered_page(tmp_path):
    text = ["Cosine similarity compares directions.", "", "A patch of pixels becomes a token."]
    page, boxes = ocr.render_page(text, seed=0)
    lines = ocr.read_lines(page)
    assert ocr.char_error_rate(" ".join(t for t, _ in boxes), " ".join(ln.text for ln in lines)) < 0.1
    (tmp_path / "scan.pdf").write_bytes(ocr.scanned_pdf([page, page]))
    (tmp_path / "bad.png").write_bytes(b"not an image")
    chunks = ocr.parse_file(tmp_path / "scan.pdf")
    assert {c.page for c in chunks} == {1, 2} and len({c.region for c in chunks}) == 2
    assert all("region" in c.citation() for c in chunks)
    from utils.rag.ingest import IngestReport  # noqa: F401

    class Store:
        def __init__(self):
            self.stored = {}

        def replace_source(self, source, chunks, vectors):
            self.stored[source] = chunks

    store = Store()
    report = ocr.ingest([tmp_path / "scan.pdf", tmp_path / "bad.png"], store, lambda texts: [[0.0]] * len(texts),
                        root=tmp_path)
    assert list(report.added) == ["scan.pdf"] and len(report.skipped) == 1 and "bad.png" in report.skipped[0]


def test_without_any_engine_each_path_names_tesseract_and_how_to_install_it(tmp_path, monkeypatch):
    """A machine without tesseract (and without the optional rapidocr): nothing crashes, every message says what
    to install - notebook 12's OCR cells print these lines and the rest of the notebook runs on."""
    monkeypatch.setattr(ocr.shutil, "which", lambda name, *a, **k: None)
    status = ocr.engine_status()
    assert status["tesseract"].startswith("missing (no `tesseract` on PATH)")
    assert "sudo apt-get install tesseract-ocr" in status["tesseract"] and "brew install tesseract" in status["tesseract"]
    assert "requirements.txt" not in status["tesseract"]
    if status["rapidocr"] != "ok":                  # rapidocr is optional: its hint must not promise requirements.txt
        assert "pip install rapidocr-onnxruntime" in status["rapidocr"]
    monkeypatch.setattr(ocr, "pick_engine", lambda prefer=ocr.ENGINES: None)
    page, _ = ocr.render_page(["scanned words"])
    (tmp_path / "scan.pdf").write_bytes(ocr.scanned_pdf([page]))
    with pytest.raises(BadDocument, match="no OCR engine: install tesseract .*apt-get install tesseract-ocr"):
        ocr.parse_file(tmp_path / "scan.pdf")
    with pytest.raises(RuntimeError, match="OCR engine tesseract is missing"):
        ocr.read_lines(page, "tesseract")

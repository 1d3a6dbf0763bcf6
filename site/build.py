"""Build the course as an offline static website from the executed solution notebooks.

    python site/build.py [OUTPUT_DIR [NOTEBOOK ...]]   # defaults: _build/site, every chapter of the manifest (make site)

Every page works without a network: require.js, the Jupyter widget manager and MathJax are vendored under
site/vendor/ (copied from npm, licences alongside) and the search index is a plain script, so the site opens from
file:// as well as from any web server (``python -m http.server -d _build/site``).

What is built:
- ``index.html``: the course intro (from README.md), the table of contents (chapters and their sections), search;
- one page per ``solutions/NN_*.ipynb`` with its saved outputs, math, widgets in their saved state, a sidebar with
  every chapter and the sections of the page, previous/next links; exercise solution cells sit behind a
  "show the solution" toggle (<details>);
- ``assets/search-index.js``: the text of every section (markdown and code, never a solution) for the search box;
- ``site-manifest.json``: what each page contains (math, widget views), used by tests/test_browser.py.

Links between notebooks (``03_tokenization.ipynb``) become links between pages; a link to a chapter that is not
published yet becomes plain text, so the site never has a dead link.
"""
from __future__ import annotations

import argparse
import copy
import html
import json
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import nbformat
from bs4 import BeautifulSoup, NavigableString, Tag
from nbconvert import HTMLExporter
from nbconvert.filters.markdown import markdown2html

SITE = Path(__file__).resolve().parent
ROOT = SITE.parent
if str(ROOT) not in sys.path:  # run as a script (python site/build.py): the course's package is one folder up
    sys.path.insert(0, str(ROOT))
from course_tools.course_format import is_exercise, strip_markers  # noqa: E402
from course_tools.manifest import Course  # noqa: E402

DEFAULT_OUT = ROOT / "_build" / "site"
MARKER = ".course-site"  # written into the output folder; only such a folder is ever wiped by a rebuild
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# the only vendored files a page needs (the npm packages ship more: source maps, other font formats)
VENDOR_FILES = [
    "requirejs/require.js", "requirejs/LICENSE",
    "html-manager/embed-amd.js", "html-manager/embed.js.LICENSE.txt", "html-manager/LICENSE",
    "html-manager/1551f4f60c37af51121f.woff2", "html-manager/7a3337626410ca2f4071.woff2",
    "html-manager/d878b0a6a1144760244f.woff2",
    "mathjax/tex-svg-full.js", "mathjax/LICENSE",
    "README.md",
]
LICENCE_FILES = ["LICENSE", "NOTICE"]  # copied into the site's root, with licenses/
NB_LINK = re.compile(r"\]\(\s*(?:\./)?(?:\.\./)?(?:notebooks/|solutions/|my-work/)?"
                     r"(?P<stem>\d\d_[\w.-]+?)\.ipynb(?P<anchor>#[^)\s]*)?\s*\)")
MD_LINK_TO_NB = re.compile(r"\[(?P<text>[^\]]+)\]\(\s*[^)\s]*?(?P<stem>\d\d_[\w.-]+?)\.ipynb(?:#[^)\s]*)?\s*\)")
MATH = re.compile(r"\$\$.+?\$\$|(?<![\\$\w])\$[^$\n]+?\$(?!\w)|\\\(.+?\\\)|\\\[.+?\\\]", re.DOTALL)


@dataclass(eq=False)
class Chapter:
    path: Path
    title: str
    slug: str = ""
    sections: list[tuple[str, str, int]] = field(default_factory=list)  # (anchor id, text, level)

    def __post_init__(self):
        self.slug = self.path.stem

    @property
    def href(self) -> str:
        return f"{self.slug}.html"


# ---------------------------------------------------------------------------------------------------------------
# small helpers

def _plain(markdown: str) -> str:
    """Heading markdown -> plain text for titles (`code`, **bold**, [links](x) lose their markup)."""
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(r"[*_`]", "", text)
    return text.strip()


def notebook_title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return _plain(line[2:])
    return ""


def has_math(nb) -> bool:
    return any(cell.cell_type == "markdown" and MATH.search(cell.source) for cell in nb.cells)


def widget_views(nb) -> int:
    return sum(WIDGET_VIEW in out.get("data", {}) for cell in nb.cells if cell.cell_type == "code"
               for out in cell.get("outputs", []))


def _rewrite_links(source: str, published: set[str]) -> str:
    """Links to notebooks become links to pages; links to chapters that are not published become plain text."""
    def unpublished(match):
        return match.group(0) if match.group("stem") in published else f"{match.group('text')} (coming soon)"

    source = MD_LINK_TO_NB.sub(unpublished, source)
    return NB_LINK.sub(lambda m: f"]({m.group('stem')}.html{m.group('anchor') or ''})", source)


def prepare(nb, published: set[str]):
    """A copy of the notebook fit for the site: solution markers removed, notebook links rewritten."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code" and is_exercise(cell):
            cell.source = strip_markers(cell.source)
        elif cell.cell_type == "markdown":
            cell.source = _rewrite_links(cell.source, published)
    return nb


def _anchor(anchor_id: str) -> str:
    """href for a heading id. nbconvert's ids are already percent-encoded ("02-%C2%B7-Norms"); a browser matches
    a fragment against ids as written first, so '%' stays as it is and only characters unsafe in a URL are encoded."""
    return "#" + quote(anchor_id, safe="/:@!$&'()*+,;=?%-._~")


# ---------------------------------------------------------------------------------------------------------------
# the frame around every page

def header_html(prefix: str = "") -> str:
    return f"""<header class="course-header">
<a class="course-home" href="{prefix}index.html">Embeddings for LLMs</a>
<span class="course-subtitle">an open, hands-on course</span>
<div class="course-search" role="search">
<input type="search" id="course-search-input" placeholder="Search the course…" aria-label="Search the course"
       autocomplete="off">
<ol id="course-search-results" class="course-search-results" hidden></ol>
</div>
</header>"""


def chapters_html(chapters: list[Chapter], current: Chapter | None) -> str:
    items = []
    for ch in chapters:
        cls = ' class="current" aria-current="page"' if ch is current else ""
        items.append(f'<li><a href="{ch.href}"{cls}>{html.escape(ch.title)}</a></li>')
    home = ' class="current" aria-current="page"' if current is None else ""
    return (f'<p class="course-nav-title"><a href="index.html"{home}>Contents</a></p>\n'
            f'<ol class="course-chapters">\n' + "\n".join(items) + "\n</ol>")


def page_toc_html(chapter: Chapter) -> str:
    entries = [f'<li><a href="{_anchor(aid)}">{html.escape(text)}</a></li>'
               for aid, text, level in chapter.sections if level == 2]
    if not entries:
        return ""
    return ('<p class="course-nav-title">On this page</p>\n<ol class="course-page-toc">\n'
            + "\n".join(entries) + "\n</ol>")


def pager_html(chapters: list[Chapter], index: int) -> str:
    prev = (f'<a class="course-prev" rel="prev" href="{chapters[index - 1].href}">← {html.escape(chapters[index - 1].title)}</a>'
            if index > 0 else '<a class="course-prev" rel="prev" href="index.html">← Contents</a>')
    nxt = (f'<a class="course-next" rel="next" href="{chapters[index + 1].href}">{html.escape(chapters[index + 1].title)} →</a>'
           if index + 1 < len(chapters) else '<span></span>')
    return f'<nav class="course-pager" aria-label="Previous and next chapter">{prev}{nxt}</nav>'


SCRIPTS = """<script src="assets/search-index.js" defer></script>
<script src="assets/search.js" defer></script>"""


# ---------------------------------------------------------------------------------------------------------------
# reading the rendered page back: headings (for the tables of contents) and searchable text

def _text(node) -> str:
    return re.sub(r"\s+", " ", node.get_text(" ")).replace("¶", "").strip()


def sections_and_search(soup: BeautifulSoup, chapter: Chapter) -> list[dict]:
    """Fill ``chapter.sections`` from the page's h1-h3 and return its search entries (one per heading)."""
    entries: list[dict] = []
    current = {"u": chapter.href, "c": chapter.title, "s": chapter.title, "t": []}
    main = soup.find("main")
    for cell in main.select("div.jp-Cell"):
        if cell.find_parent("details", class_="course-solution"):
            continue  # never put a solution into the search index
        if "jp-MarkdownCell" in cell.get("class", []):
            md = cell.select_one(".jp-RenderedMarkdown")
            if md is None:
                continue
            for child in md.children:
                if isinstance(child, NavigableString):
                    if child.strip():
                        current["t"].append(child.strip())
                    continue
                if not isinstance(child, Tag):
                    continue
                if child.name in ("h1", "h2", "h3") and child.get("id"):
                    text = _text(child)
                    chapter.sections.append((child["id"], text, int(child.name[1])))
                    entries.append(current)
                    current = {"u": chapter.href + _anchor(child["id"]), "c": chapter.title, "s": text, "t": []}
                else:
                    current["t"].append(_text(child))
        elif "jp-CodeCell" in cell.get("class", []):
            code = cell.select_one(".jp-InputArea pre")
            if code is not None:
                current["t"].append(_text(code))
    entries.append(current)
    out = []
    for entry in entries:
        text = " ".join(t for t in entry["t"] if t)
        if not text and entry["s"] == chapter.title and entry["u"] == chapter.href:
            continue
        out.append({**entry, "t": text[:4000]})
    return out


# ---------------------------------------------------------------------------------------------------------------
# pages

def make_exporter() -> HTMLExporter:
    return HTMLExporter(
        template_name="course",
        extra_template_basedirs=[str(SITE / "templates")],
        theme="light",
        require_js_url="vendor/requirejs/require.js",
        widget_renderer_url="vendor/html-manager/embed-amd.js",
        mathjax_url="vendor/mathjax/tex-svg-full.js",  # the course template loads it itself (MathJax 3 config)
    )


def render_chapter(exporter: HTMLExporter, nb, chapter: Chapter, chapters: list[Chapter], published: set[str]):
    """Render one page; returns (html, search entries). The tables of contents are filled in afterwards."""
    page_nb = prepare(nb, published)
    page_nb.metadata["title"] = f"{chapter.title} — Embeddings for LLMs"
    resources = {
        "metadata": {"name": chapter.slug},
        "course": {"header": header_html(), "chapters": "<!--COURSE-CHAPTERS-->",
                   "pager": pager_html(chapters, chapters.index(chapter))},
    }
    body, _ = exporter.from_notebook_node(page_nb, resources=resources)
    body = body.replace("</body>", SCRIPTS + "\n</body>", 1)
    # parsed only to read headings and text; the page is written as nbconvert made it
    return body, sections_and_search(BeautifulSoup(body, "html.parser"), chapter)


def readme_intro() -> tuple[str, str]:
    """Course title and its first paragraph from README.md, as HTML."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    title = next((_plain(line[2:]) for line in readme if line.startswith("# ")), "Embeddings for LLMs")
    para, started = [], False
    for line in readme:
        if line.startswith("# "):
            started = True
            continue
        if started and line.strip():
            if line.startswith("#"):
                break
            para.append(line)
        elif started and para:
            break
    return title, markdown2html(" ".join(para))


def index_html(chapters: list[Chapter]) -> str:
    title, intro = readme_intro()
    toc = []
    for ch in chapters:
        sections = "".join(f'<li><a href="{ch.href}{_anchor(aid)}">{html.escape(text)}</a></li>'
                           for aid, text, level in ch.sections if level == 2)
        toc.append(f'<li><a class="course-toc-chapter" href="{ch.href}">{html.escape(ch.title)}</a>'
                   f'<ol class="course-toc-sections">{sections}</ol></li>')
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{html.escape(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="assets/course.css">
<script src="assets/mathjax-config.js"></script>
<script src="vendor/mathjax/tex-svg-full.js" defer></script>
</head>
<body class="course-page course-index">
{header_html()}
<div class="course-layout">
<nav class="course-sidebar" aria-label="Course contents">
{chapters_html(chapters, None)}
</nav>
<main class="course-main">
<h1>{html.escape(title)}</h1>
<div class="course-intro">{intro}</div>
<p class="course-howto">These pages show every chapter <em>with its solutions and saved outputs</em>. Exercise
solutions are folded: open “show the solution” only after you tried. The widgets show the state they were saved in;
to move the sliders and to do the exercises, run the notebooks in JupyterLab (<code>make lab</code>).</p>
<h2 id="contents">Contents</h2>
<ol class="course-toc">
{chr(10).join(toc)}
</ol>
</main>
</div>
{SCRIPTS}
</body>
</html>
"""


# ---------------------------------------------------------------------------------------------------------------

def _prepare_out(out: Path) -> None:
    if out.exists():
        if not (out / MARKER).exists() and any(out.iterdir()):
            raise SystemExit(f"{out} exists and is not a course site built by this script; refusing to overwrite it")
        shutil.rmtree(out)
    (out / "assets").mkdir(parents=True)
    (out / MARKER).write_text("built by site/build.py; safe to delete\n")
    for rel in VENDOR_FILES:
        src = SITE / "vendor" / rel
        (out / "vendor" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, out / "vendor" / rel)
    for asset in (SITE / "assets").iterdir():
        shutil.copy2(asset, out / "assets" / asset.name)
    # the site is a copy of the course: Apache-2.0 asks that its licence and NOTICE travel with it
    for name in LICENCE_FILES:
        shutil.copy2(ROOT / name, out / name)
    shutil.copytree(ROOT / "licenses", out / "licenses")


def build(out: Path = DEFAULT_OUT, notebooks: list[Path] | None = None, quiet: bool = False) -> dict:
    """Build the site into ``out``; returns the manifest (also written to ``out/site-manifest.json``)."""
    start = time.monotonic()
    out = Path(out).resolve()
    paths = sorted(notebooks) if notebooks else [ROOT / ch.solution for ch in Course().chapters()]
    if not paths:
        raise SystemExit("no solutions/NN_*.ipynb to build the site from")
    nbs = {p: nbformat.read(p, as_version=4) for p in paths}
    chapters = [Chapter(p, notebook_title(nbs[p]) or p.stem) for p in paths]
    published = {ch.slug for ch in chapters}
    _prepare_out(out)
    exporter = make_exporter()

    pages, search, manifest_pages = {}, [], []
    for ch in chapters:
        nb = nbs[ch.path]
        unexecuted = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()
                      and c.execution_count is None and not c.source.lstrip().startswith("# NBVAL_SKIP")]
        if unexecuted:
            print(f"warning: {ch.path.name}: code cells {unexecuted} have no saved output (not executed?)",
                  file=sys.stderr)
        body, entries = render_chapter(exporter, nb, ch, chapters, published)
        pages[ch] = body
        search += entries
        manifest_pages.append({"file": ch.href, "title": ch.title, "source": f"solutions/{ch.path.name}",
                               "math": has_math(nb), "widget_views": widget_views(nb),
                               "widget_state": bool(nb.metadata.get("widgets")),
                               "exercises": sum(is_exercise(c) for c in nb.cells)})

    for ch, text in pages.items():  # the sidebars need every chapter's title and sections
        text = text.replace("<!--COURSE-CHAPTERS-->", chapters_html(chapters, ch), 1)
        text = text.replace("<!--COURSE-PAGE-TOC-->", page_toc_html(ch), 1)
        (out / ch.href).write_text(text, encoding="utf-8")
    (out / "index.html").write_text(index_html(chapters), encoding="utf-8")
    manifest_pages.insert(0, {"file": "index.html", "title": "Contents", "source": "README.md", "math": False,
                              "widget_views": 0, "widget_state": False, "exercises": 0})
    (out / "assets" / "search-index.js").write_text(
        "// generated by site/build.py: one entry per section (u: link, c: chapter, s: section, t: text)\n"
        "window.COURSE_SEARCH_INDEX = " + json.dumps(search, ensure_ascii=False, separators=(",", ":")) + ";\n",
        encoding="utf-8")
    manifest = {"pages": manifest_pages, "search_entries": len(search)}
    (out / "site-manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    if not quiet:
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e6
        print(f"built {len(chapters)} chapter pages + index into {out} ({size:.1f} MB, "
              f"{time.monotonic() - start:.1f} s); open {out / 'index.html'}")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default=str(DEFAULT_OUT), help="output folder (default: _build/site)")
    parser.add_argument("notebooks", nargs="*", type=Path, help="solution notebooks (default: solutions/NN_*.ipynb)")
    args = parser.parse_args(argv)
    build(Path(args.out), args.notebooks or None)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Real-browser tests: every notebook in JupyterLab, and the offline static site (site/build.py), in Chromium.

JupyterLab part (one throw-away server for the module, a temporary copy of each notebook):
- solution notebooks: Run All executes every code cell, no error output, no stderr that the committed notebook does
  not have, every widget renders (never "Error displaying widget"), and one interaction (a slider key press, else a
  dropdown / button) changes what the widget shows;
- learner notebooks (tests/test_browser_learner.py, a file of its own so that the two halves can run on two
  workers): Run All reaches the last cell and every check cell shows "not attempted" instead of stopping.
Site part: the site is built into a temp folder; every page is opened over http://127.0.0.1 and over file:// with
every off-machine request blocked and recorded; zero failed requests, no page errors, math and widgets rendered.

Discovery is by glob (solutions/*.ipynb, notebooks/*.ipynb), so new chapters are tested without editing this file.
Without Chromium the tests skip with the reason; with COURSE_REQUIRE_BROWSER=1 (CI) they fail instead.
Screenshots land in test-artifacts/browser/ (git-ignored).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pytest
from bs4 import BeautifulSoup

from browser_helpers import (NetworkLog, artifact, chromium_or_skip, is_local, lab_server, launch,
                             shutdown_kernels, static_server)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
LEARNER = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
NOT_ATTEMPTED = "ExerciseNotAttempted"
RUN_TIMEOUT_S = 600  # a notebook runs in <= 60 s on 2 cores; Lab adds the kernel start and rendering, and CI runs
# another test beside this one


# ---------------------------------------------------------------------------------------------------------------
# fixtures

@pytest.fixture(scope="module")
def chromium():
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p, executable)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def lab(chromium, tmp_path_factory):
    with lab_server(tmp_path_factory.mktemp("lab")) as server:
        yield server


# ---------------------------------------------------------------------------------------------------------------
# JupyterLab

_WAIT_KERNEL_JS = """() => {
  const app = window.jupyterapp;
  const panel = app && app.shell.currentWidget;
  if (!panel || !panel.sessionContext || !panel.content || !panel.content.model) return false;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle' && panel.content.widgets.length > 0;
}"""

_STATE_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.model.cells;
  const out = [];
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type !== 'code') continue;
    out.push({index: i, count: c.executionCount, tags: c.getMetadata('tags') || [],
              outputs: c.outputs.toJSON()});
  }
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return {cells: out, kernel: kernel ? kernel.status : 'none'};
}"""


# polled twice a second while Run All goes on: only what says whether it is over (the whole state, outputs and their
# images included, is read once at the end; reading it at every poll cost the kernel CPU time it needed)
_PROGRESS_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.model.cells;
  const missing = [];
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type === 'code' && !c.executionCount) missing.push(i);
  }
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return {missing: missing, kernel: kernel ? kernel.status : 'none'};
}"""


def _run_all_in_lab(page, base: str, relpath: str, label: str) -> tuple[dict, float]:
    """Open ``relpath`` in Lab, Run All, wait until every code cell has run; returns (state, seconds)."""
    page.goto(f"{base}/lab/tree/{relpath}?reset", wait_until="domcontentloaded")
    page.wait_for_function(_WAIT_KERNEL_JS, timeout=120_000, polling=250)
    start = time.monotonic()
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    deadline = start + RUN_TIMEOUT_S
    idle_since = None  # the kernel idle while cells still wait: a reply the page never got
    while True:
        state = page.evaluate(_PROGRESS_JS)
        missing = state["missing"]
        if not missing and state["kernel"] == "idle":
            break
        idle_since = (idle_since or time.monotonic()) if state["kernel"] == "idle" else None
        stalled = idle_since is not None and time.monotonic() - idle_since > 60
        dead = state["kernel"] in ("dead", "none", "unknown")  # died (and Lab's restarts failed): nothing will run
        if stalled or dead or time.monotonic() > deadline:
            page.screenshot(path=str(artifact(f"lab_{label}_TIMEOUT.png")))
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            why = ("the kernel died" if dead else "the kernel has been idle for 60 s" if stalled
                   else f"Run All did not finish in {RUN_TIMEOUT_S} s")
            pytest.fail(f"{relpath}: {why} after {time.monotonic() - start:.0f} s; cells never executed: {missing}; "
                        f"kernel {state['kernel']}; load average {load}")
        page.wait_for_timeout(250)
    page.wait_for_timeout(300)  # the kernel went idle after its last output (iopub is ordered); let it paint
    return page.evaluate(_STATE_JS), time.monotonic() - start


def _error_outputs(cell: dict) -> list[str]:
    return [f"{o.get('ename')}: {o.get('evalue')}" for o in cell["outputs"] if o.get("output_type") == "error"]


def _stderr(cell: dict) -> str:
    return "".join(o.get("text", "") if isinstance(o.get("text"), str) else "".join(o.get("text", []))
                   for o in cell["outputs"] if o.get("output_type") == "stream" and o.get("name") == "stderr")


def _committed_stderr(nb_path: Path) -> dict[int, str]:
    nb = nbformat.read(nb_path, as_version=4)
    return {i: "".join(o.get("text", "") for o in c.get("outputs", [])
                       if o.get("output_type") == "stream" and o.get("name") == "stderr")
            for i, c in enumerate(nb.cells) if c.cell_type == "code"}


def _widget_count(state: dict) -> int:
    return sum(WIDGET_VIEW in o.get("data", {}) for c in state["cells"] for o in c["outputs"])


def _copy_into(root: Path, nb_path: Path) -> str:
    """Temporary copy in a folder named like the original (solutions/ or notebooks/); Lab autosaves into it."""
    rel = Path(nb_path.parent.name) / nb_path.name
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(nb_path, root / rel)
    return rel.as_posix()

@contextlib.contextmanager
def lab_page(lab, chromium, nb_path: Path, kind: str):
    """A fresh page on a temporary copy of ``nb_path`` in the module's Lab; yields (page, base URL, relative path,
    network log). Whatever happens: a screenshot ``lab_{kind}_{stem}.png``, the notebook's kernels shut down."""
    base, root = lab
    rel = _copy_into(root, nb_path)
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    log = NetworkLog(page)
    try:
        yield page, base, rel, log
    finally:
        page.screenshot(path=str(artifact(f"lab_{kind}_{nb_path.stem}.png")))
        left = shutdown_kernels(page, base)
        page.close()
        if left:
            print(f"warning: {left} kernels still running after {nb_path.name}")



_SIGNATURE_JS = """(cellIndex) => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cell = panel.content.widgets[cellIndex];
  const area = cell.node.querySelector('.jp-OutputArea');
  if (!area) return null;
  const outs = [...area.querySelectorAll('.widget-output, .jupyter-widgets-output-area')];
  const readouts = [...area.querySelectorAll('.widget-readout, select, input')].map(e => e.value || e.textContent);
  return {outputs: outs.map(o => o.innerHTML).join('\\n'), readouts: readouts.join('|')};
}"""


def _interact(page, state: dict) -> str:
    """Change the first slider (else dropdown, else button) of the first widget cell; returns what changed."""
    widget_cells = [c["index"] for c in state["cells"] if any(WIDGET_VIEW in o.get("data", {}) for o in c["outputs"])]
    for index in widget_cells:
        cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
        cell.scroll_into_view_if_needed()
        before = page.evaluate(_SIGNATURE_JS, index)
        handle = cell.locator(".widget-slider .noUi-handle, .widget-slider .ui-slider-handle")
        select = cell.locator(".widget-dropdown select")
        button = cell.locator("button.widget-button, .widget-toggle-button")
        if handle.count():
            handle.first.focus()
            for _ in range(3):
                page.keyboard.press("ArrowRight")
            kind = "slider"
        elif select.count():
            options = select.first.locator("option").all_text_contents()
            current = select.first.input_value()
            values = select.first.evaluate("s => [...s.options].map(o => o.value)")
            nxt = next((v for v in values if v != current), None)
            if nxt is None:
                continue
            select.first.select_option(nxt)
            kind = f"dropdown ({len(options)} options)"
        elif button.count():
            button.first.click()
            kind = "button"
        else:
            continue
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            after = page.evaluate(_SIGNATURE_JS, index)
            if before and after and before["outputs"] and after["outputs"] != before["outputs"]:
                return f"{kind} in cell {index} changed the widget's output"
            if before and after and not before["outputs"] and after["readouts"] != before["readouts"]:
                return f"{kind} in cell {index} changed its readout (the widget has no output area)"
            page.wait_for_timeout(250)
        pytest.fail(f"moving the {kind} in cell {index} changed nothing that is shown")
    pytest.fail("the notebook shows widgets, but none has a slider, dropdown or button to interact with")


def _assert_widgets_render(page, expected: int, where: str) -> int:
    if expected == 0:
        return 0
    page.wait_for_function(
        "(n) => document.querySelectorAll('.jp-OutputArea-output .jupyter-widgets').length >= n",
        arg=expected, timeout=30_000)
    text = page.locator(".jp-Notebook").inner_text()
    assert "Error displaying widget" not in text, f"{where}: a widget failed to render"
    return page.locator(".jp-OutputArea-output .jupyter-widgets").count()


@pytest.mark.parametrize("nb_path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_solution_runs_in_jupyterlab(lab, chromium, nb_path, record_property):
    with lab_page(lab, chromium, nb_path, "solution") as (page, base, rel, log):
        state, seconds = _run_all_in_lab(page, base, rel, f"solution_{nb_path.stem}")
        record_property("run_all_seconds", round(seconds, 1))
        problems = []
        committed = _committed_stderr(nb_path)
        for cell in state["cells"]:
            if not cell["count"]:
                problems.append(f"cell {cell['index']} never executed")
            problems += [f"cell {cell['index']} raised {e}" for e in _error_outputs(cell)]
            err = _stderr(cell)
            if err and not committed.get(cell["index"]):
                problems.append(f"cell {cell['index']} wrote to stderr: {err.strip()[:200]}")
        assert not problems, f"{nb_path.name} in JupyterLab:\n" + "\n".join(problems)
        widgets = _widget_count(state)
        _assert_widgets_render(page, widgets, nb_path.name)
        if widgets:
            print(f"{nb_path.name}: {_interact(page, state)}")
        assert not log.offsite, f"JupyterLab page requested off-machine URLs: {log.offsite}"


# ---------------------------------------------------------------------------------------------------------------
# the static site (site/build.py)

SITE_PAGES = ["index.html"] + [f"{p.stem}.html" for p in SOLUTIONS]
SITE_BUILD_TIMEOUT_S = 300
# Page errors and console errors the site tests tolerate: {substring of the message: why it is harmless}.
# Empty: every page loads without a single uncaught error or console error, over http:// and over file://.
# (The widget manager calls the MathJax 2 API `MathJax.Hub.Queue`, which MathJax 3 lacks; rather than allowing that
# "Cannot read properties of undefined (reading 'Queue')" error, site/assets/mathjax-config.js maps the call onto
# MathJax 3.)
ALLOWED_PAGE_ERRORS: dict[str, str] = {}
SOLUTION_BODY = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.DOTALL)


@pytest.fixture(scope="module")
def built_site(tmp_path_factory) -> tuple[Path, dict]:
    """Build the site exactly as `make site` does, into a temporary folder; returns (folder, manifest)."""
    out = tmp_path_factory.mktemp("site") / "site"
    start = time.monotonic()
    # the notebooks collected for this run, so pages and test ids agree even if a chapter is added meanwhile
    proc = subprocess.run([sys.executable, str(ROOT / "site" / "build.py"), str(out), *map(str, SOLUTIONS)], cwd=ROOT,
                          capture_output=True, text=True, timeout=SITE_BUILD_TIMEOUT_S)
    assert proc.returncode == 0, f"site/build.py failed:\n{proc.stdout}\n{proc.stderr}"
    print(f"site built in {time.monotonic() - start:.1f} s: {proc.stdout.strip()}")
    return out, json.loads((out / "site-manifest.json").read_text())


@pytest.fixture(scope="module")
def site_http(built_site):
    with static_server(built_site[0]) as base:
        yield base


def _manifest_page(manifest: dict, name: str) -> dict:
    by_file = {p["file"]: p for p in manifest["pages"]}
    assert name in by_file, f"the site has no page {name} (pages: {sorted(by_file)})"
    return by_file[name]


def _local_target(page_file: Path, ref: str) -> tuple[Path, str] | None:
    """(file, fragment) for a relative link, None for external links, anchors-only links and data: URLs."""
    parsed = urlparse(ref)
    if parsed.scheme or ref.startswith("//"):
        return None
    if not parsed.path:
        return page_file, parsed.fragment
    return (page_file.parent / unquote(parsed.path)).resolve(), parsed.fragment


def test_site_build_is_complete_and_self_contained(built_site):
    """No browser needed: every chapter has a page, every resource and internal link resolves inside the site,
    nothing is loaded from another machine, every exercise is folded and no solution reaches the search index."""
    out, manifest = built_site
    assert [p["file"] for p in manifest["pages"]] == SITE_PAGES
    for name in ("LICENSE", "NOTICE", "licenses/OFL-1.1.txt"):  # the course's licence travels with the site
        assert (out / name).read_bytes() == (ROOT / name).read_bytes(), name
    pages = {f: BeautifulSoup((out / f).read_text(encoding="utf-8"), "html.parser") for f in SITE_PAGES}
    ids = {f: {tag["id"] for tag in soup.find_all(id=True)} for f, soup in pages.items()}
    problems = []
    for name, soup in pages.items():
        for tag, attr in (("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"),
                          ("source", "src"), ("a", "href")):
            for el in soup.find_all(tag, attrs={attr: True}):
                ref = el[attr]
                target = _local_target(out / name, ref)
                if target is None:
                    if tag != "a" and not ref.startswith("data:"):
                        problems.append(f"{name}: <{tag} {attr}={ref!r}> would load from another machine")
                    continue
                path, fragment = target
                if not path.is_file():
                    problems.append(f"{name}: <{tag} {attr}={ref!r}> points to a missing file")
                elif (fragment and path.suffix == ".html"  # browsers try the fragment as written, then decoded
                      and not {fragment, unquote(fragment)} & ids.get(path.name, set())):
                    problems.append(f"{name}: link {ref!r} points to a missing anchor")
        if "### BEGIN SOLUTION" in str(soup):
            problems.append(f"{name}: solution markers are shown")
    for nb_path in SOLUTIONS:
        info = _manifest_page(manifest, f"{nb_path.stem}.html")
        soup = pages[info["file"]]
        folded = soup.select("details.course-solution .jp-CodeCell")
        if len(folded) != info["exercises"]:
            problems.append(f"{info['file']}: {len(folded)} folded solutions for {info['exercises']} exercises")
        if info["widget_views"] and not info["widget_state"]:
            problems.append(f"{nb_path.name} shows widgets but was saved without widget state: the site cannot "
                            "render them (save the executed notebook with its widget state)")
    search_js = (out / "assets" / "search-index.js").read_text(encoding="utf-8")
    index = json.loads(search_js.split("=", 1)[1].strip().rstrip(";"))
    chapters_indexed = {entry["u"].split("#")[0] for entry in index}
    missing = {f"{p.stem}.html" for p in SOLUTIONS} - chapters_indexed
    if missing:
        problems.append(f"search index has no entry for {sorted(missing)}")
    for nb_path in SOLUTIONS:
        for body in SOLUTION_BODY.findall(nb_path.read_text(encoding="utf-8").replace("\\n", "\n")):
            for line in body.splitlines():
                line = line.strip().strip('",').strip()
                if len(line) > 30 and json.dumps(line)[1:-1] in search_js:
                    problems.append(f"search index reveals a solution line of {nb_path.name}: {line!r}")
    assert not problems, "\n".join(problems)


_PAGE_READY_JS = """async () => {
  if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) await window.MathJax.startup.promise;
  await document.fonts.ready;
  return true;
}"""

_WIDGETS_DONE_JS = """(n) => document.querySelectorAll('.jupyter-widgets.jp-OutputArea-output > .widget-subarea > .lm-Widget')
    .length >= n || document.body.innerText.includes('Error displaying widget')"""

_SITE_STATE_JS = """() => {
  const rawMath = [];
  document.querySelectorAll('.jp-RenderedMarkdown').forEach(md => {
    const walker = document.createTreeWalker(md, NodeFilter.SHOW_TEXT, {acceptNode: n =>
      n.parentElement.closest('code, pre, mjx-container, script, style') ? NodeFilter.FILTER_REJECT
                                                                        : NodeFilter.FILTER_ACCEPT});
    let node;
    while ((node = walker.nextNode())) {
      if (/\\$\\$|\\$[^$\\s][^$\\n]*\\$|\\\\\\(|\\\\\\[|\\\\frac|\\\\sum/.test(node.textContent))
        rawMath.push(node.textContent.trim().slice(0, 120));
    }
  });
  const roots = [...document.querySelectorAll('.jupyter-widgets.jp-OutputArea-output > .widget-subarea > .lm-Widget')];
  return {
    math: document.querySelectorAll('mjx-container').length,
    mathErrors: document.querySelectorAll('mjx-merror').length,
    rawMath: rawMath,
    widgetRoots: roots.length,
    emptyWidgets: roots.filter(r => r.getBoundingClientRect().height < 5).length,
    sliders: document.querySelectorAll('.widget-slider .noUi-handle').length,
    widgetError: document.body.innerText.includes('Error displaying widget'),
    // the widget manager renders each saved view into a .widget-subarea it inserts just before the view's script
    unrenderedViews: [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')]
      .filter(s => !(s.previousElementSibling && s.previousElementSibling.matches('.widget-subarea')
                     && s.previousElementSibling.querySelector('.lm-Widget'))).length,
    title: document.title,
  };
}"""


def _allowed(message: str) -> bool:
    return any(key in message for key in ALLOWED_PAGE_ERRORS)


@pytest.mark.parametrize("mode", ["http", "file"])
@pytest.mark.parametrize("page_file", SITE_PAGES, ids=[Path(p).stem for p in SITE_PAGES])
def test_site_page_renders_offline(chromium, built_site, site_http, page_file, mode):
    out, manifest = built_site
    info = _manifest_page(manifest, page_file)
    url = f"{site_http}/{page_file}" if mode == "http" else (out / page_file).as_uri()
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    log = NetworkLog(page)
    blocked: list[str] = []

    def guard(route):  # nothing may leave the machine: record and refuse
        if is_local(route.request.url):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("blockedbyclient")

    page.route("**/*", guard)
    try:
        page.goto(url, wait_until="load", timeout=60_000)
        page.evaluate(_PAGE_READY_JS)
        if info["widget_views"]:
            page.wait_for_function(_WIDGETS_DONE_JS, arg=info["widget_views"], timeout=30_000, polling=100)
        page.wait_for_timeout(300)  # late errors (a widget typesetting its label, a font) still count
        state = page.evaluate(_SITE_STATE_JS)
        problems = []
        if blocked or log.offsite:
            problems.append(f"requests to other machines: {sorted(set(blocked + log.offsite))}")
        if log.failed:
            problems.append(f"failed requests: {log.failed}")
        problems += [f"page error: {e}" for e in log.page_errors if not _allowed(e)]
        problems += [f"console error: {e}" for e in log.console_errors if not _allowed(e)]
        if info["math"]:
            if not state["math"]:
                problems.append("the page has TeX but MathJax rendered nothing")
            if state["mathErrors"]:
                problems.append(f"{state['mathErrors']} formulas failed to render (mjx-merror)")
            if state["rawMath"]:
                problems.append(f"TeX left unrendered: {state['rawMath'][:5]}")
        if info["widget_views"]:
            if state["widgetError"]:
                problems.append("'Error displaying widget' on the page")
            if state["widgetRoots"] != info["widget_views"] or state["unrenderedViews"]:
                problems.append(f"{state['widgetRoots']} of {info['widget_views']} widgets rendered "
                                f"({state['unrenderedViews']} saved views not rendered)")
            if state["emptyWidgets"]:
                problems.append(f"{state['emptyWidgets']} widgets rendered with no height")
        assert not problems, f"{page_file} over {mode}:\n" + "\n".join(problems)
    finally:
        if info["widget_views"] and page.locator(".widget-subarea").count():
            page.locator(".widget-subarea").first.scroll_into_view_if_needed()
            page.evaluate("() => window.scrollBy(0, -120)")
        page.screenshot(path=str(artifact(f"site_{Path(page_file).stem}_{mode}.png")))
        page.close()


def test_site_navigation_search_and_solution_toggle(chromium, built_site, site_http):
    out, manifest = built_site
    chapters = [p for p in manifest["pages"] if p["file"] != "index.html"]
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    log = NetworkLog(page)
    try:
        # the table of contents links every chapter
        page.goto(f"{site_http}/index.html")
        linked = page.eval_on_selector_all(".course-toc .course-toc-chapter", "els => els.map(e => e.getAttribute('href'))")
        assert linked == [c["file"] for c in chapters]
        # next, next, ... walks through every chapter in order; the sidebar marks the current one
        page.click(".course-toc .course-toc-chapter >> nth=0")
        for i, chapter in enumerate(chapters):
            page.wait_for_url(f"**/{chapter['file']}")
            assert page.locator(".course-sidebar a.current").get_attribute("href") == chapter["file"]
            assert page.locator(".course-page-toc a").count() > 0, f"{chapter['file']} has no page contents"
            if i + 1 < len(chapters):
                page.click(".course-pager .course-next")
        assert page.locator(".course-pager .course-next").count() == 0
        # a solution is folded until its toggle is opened
        with_exercise = next(c for c in chapters if c["exercises"])
        page.goto(f"{site_http}/{with_exercise['file']}")
        details = page.locator("details.course-solution").first
        code = details.locator(".jp-InputArea")
        assert not code.is_visible(), "an exercise solution is visible before its toggle is opened"
        details.locator("summary").click()
        assert code.is_visible(), "opening the toggle does not show the solution"
        # search: results appear as you type, Enter opens the best hit; nonsense finds nothing
        page.fill("#course-search-input", "cosine similarity")
        page.wait_for_selector("#course-search-results li a", timeout=5_000)
        hits = page.locator("#course-search-results li a").count()
        assert hits > 0
        target = page.locator("#course-search-results li a").first.get_attribute("href")
        page.press("#course-search-input", "Enter")
        page.wait_for_url(f"**/{target}")
        page.fill("#course-search-input", "zqxjv")
        page.wait_for_selector("#course-search-results li.empty", timeout=5_000)
        page.screenshot(path=str(artifact("site_search.png")))
        assert not log.page_errors and not log.failed and not log.offsite, (log.page_errors, log.failed, log.offsite)
        print(f"navigation through {len(chapters)} chapters, toggle and search ({hits} hits) work")
    finally:
        page.close()

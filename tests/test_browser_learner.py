"""Real-browser tests, second half: every learner notebook in JupyterLab (Chromium), Run All reaches the last cell,
every check cell shows "not attempted" instead of stopping, no other cell raises, widgets render, and the page asks
for nothing off the machine. The solutions' half, the shared set-up and the site are in tests/test_browser.py; this
half is a file of its own so that pytest-xdist can run the two halves on two workers."""
from __future__ import annotations

import pytest

from test_browser import (LEARNER, NOT_ATTEMPTED, _assert_widgets_render, _error_outputs, _run_all_in_lab,  # noqa: F401
                          _widget_count, chromium, lab, lab_page)

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("nb_path", LEARNER, ids=[p.stem for p in LEARNER])
def test_learner_notebook_run_all_in_jupyterlab(lab, chromium, nb_path, record_property):
    with lab_page(lab, chromium, nb_path, "learner") as (page, base, rel, log):
        state, seconds = _run_all_in_lab(page, base, rel, f"learner_{nb_path.stem}")
        record_property("run_all_seconds", round(seconds, 1))
        problems = []
        checks = 0
        for cell in state["cells"]:
            errors = _error_outputs(cell)
            if "check" in cell["tags"]:
                checks += 1
                if not any(e.startswith(NOT_ATTEMPTED) for e in errors):
                    problems.append(f"check cell {cell['index']} shows {errors or 'no error'} instead of "
                                    f"'not attempted'")
                if any(not e.startswith(NOT_ATTEMPTED) for e in errors):
                    problems.append(f"check cell {cell['index']} raised {errors}")
            elif errors:
                problems.append(f"cell {cell['index']} (not a check) raised {errors}")
        assert not problems, f"{nb_path.name} in JupyterLab:\n" + "\n".join(problems)
        assert checks > 0 or "00_" in nb_path.name, f"{nb_path.name} has no check cell"
        _assert_widgets_render(page, _widget_count(state), nb_path.name)
        assert not log.offsite, f"JupyterLab page requested off-machine URLs: {log.offsite}"

"""The learner's workspace never loses work: copies are made once, course updates land beside them."""
import json

from course_tools import manifest, workspace


def _course(tmp_path, **notebooks):
    """A course folder with ``notebooks`` (name -> text) and a manifest that lists them."""
    course = tmp_path / "notebooks"
    course.mkdir(exist_ok=True)
    chapters = []
    for k, (name, text) in enumerate(notebooks.items(), 1):
        (course / f"{name}.ipynb").write_text(text)
        chapters.append({"chapter": f"{k:02d}", "title": name, "notebook": f"notebooks/{name}.ipynb",
                         "solution": f"solutions/{name}.ipynb", "cells": {}, "exercises": []})
    (course / manifest.NAME).write_text(json.dumps({"format": manifest.FORMAT, "chapters": chapters}))
    return course


def test_first_sync_copies_everything(tmp_path):
    course = _course(tmp_path, a="A1", b="B1")
    mine = tmp_path / "my-work"
    messages = workspace.sync(course, mine)
    assert (mine / "a.ipynb").read_text() == "A1" and (mine / "b.ipynb").read_text() == "B1"
    assert len(messages) == 2 and all(m.startswith("new:") for m in messages)
    assert workspace.sync(course, mine) == []  # nothing changed: nothing to say


def test_learner_edits_survive_a_course_update(tmp_path):
    course = _course(tmp_path, a="A1")
    mine = tmp_path / "my-work"
    workspace.sync(course, mine)
    (mine / "a.ipynb").write_text("my answers")
    _course(tmp_path, a="A2")
    messages = workspace.sync(course, mine)
    assert (mine / "a.ipynb").read_text() == "my answers"
    updates = list(mine.glob("a.course-update-*.ipynb"))
    assert len(updates) == 1 and updates[0].read_text() == "A2"
    assert len(messages) == 1 and "untouched" in messages[0] and updates[0].name in messages[0]


def test_unchanged_copy_is_still_not_overwritten(tmp_path):
    course = _course(tmp_path, a="A1")
    mine = tmp_path / "my-work"
    workspace.sync(course, mine)
    _course(tmp_path, a="A2")
    workspace.sync(course, mine)
    assert (mine / "a.ipynb").read_text() == "A1"


def test_existing_file_without_manifest_is_kept(tmp_path):
    course = _course(tmp_path, a="A1")
    mine = tmp_path / "my-work"
    mine.mkdir()
    (mine / "a.ipynb").write_text("older work")
    (mine / workspace.MANIFEST).write_text("{broken json")
    workspace.sync(course, mine)
    assert (mine / "a.ipynb").read_text() == "older work"
    assert json.loads((mine / workspace.MANIFEST).read_text()) == {}


def test_deleted_copy_is_restored(tmp_path):
    course = _course(tmp_path, a="A1")
    mine = tmp_path / "my-work"
    workspace.sync(course, mine)
    (mine / "a.ipynb").unlink()
    workspace.sync(course, mine)
    assert (mine / "a.ipynb").read_text() == "A1"


def test_missing_course_folder_is_one_line(tmp_path, capsys):
    assert workspace.main(["--course", str(tmp_path / "nope"), "--workspace", str(tmp_path / "w")]) == 1
    assert "no course manifest" in capsys.readouterr().err


def test_update_name():
    assert workspace.update_name("01_x.ipynb", "ab12cd34ef") == "01_x.course-update-ab12cd34.ipynb"

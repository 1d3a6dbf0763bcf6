"""The grader's settings are made once from the command line and reach every stage unchanged: a batch's grading
process (through the options it is started with) and a Gradescope bundle (through settings.json) get the same ones."""
from __future__ import annotations

import pytest

from course_tools.grading.cli import build_parser
from course_tools.grading.sandbox import DEFAULT_MEMORY_MB
from course_tools.grading.settings import Settings


def from_command_line(*options: str) -> Settings:
    return Settings.from_args(build_parser().parse_args(["x.ipynb", *options]))


@pytest.mark.parametrize("options", [
    (), ("--timeout", "30"), ("--timeout", "30", "--notebook-timeout", "45", "--memory-mb", "0", "--allow-network"),
    ("--memory-mb", "2048", "--private-checks", "."),
])
def test_a_batch_process_and_a_bundle_get_the_settings_given(options):
    settings = from_command_line(*options)
    assert from_command_line(*settings.options()) == Settings(**{**vars(settings), "private_checks": (
        None if settings.private_checks is None else settings.private_checks.resolve())})
    assert Settings.from_json(settings.to_json()) == Settings(**{**vars(settings), "private_checks": None})


def test_the_defaults_are_the_command_lines():
    settings = from_command_line("--timeout", "10")
    assert settings.notebook_timeout == 2 * 10 + 60 and settings.memory_mb == DEFAULT_MEMORY_MB
    assert not settings.network and settings.private_checks is None
    assert Settings.from_json({}) == Settings() == from_command_line()
    assert Settings.from_json({"memory_mb": 0}).limits().memory_mb is None          # 0: no memory limit
    assert from_command_line("--memory-mb", "0").options()[-2:] == ["--memory-mb", "0"]
    with pytest.raises(AttributeError):
        settings.timeout = 1                                                         # made once, never changed

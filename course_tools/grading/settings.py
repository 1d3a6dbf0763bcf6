"""The settings of a grading - how long a cell and a notebook may run, the kernel's memory, the network, an
instructor's private checks - made once from the command line (:meth:`Settings.from_args`) and handed down as they
are: to each notebook's grading (:mod:`course_tools.grading.notebook`), to the grading process batch mode starts per
submission (:meth:`Settings.options`), and into a Gradescope bundle's ``settings.json`` (:meth:`Settings.to_json`,
read back by :meth:`Settings.from_json`).

>>> s = Settings(timeout=30)
>>> s.notebook_timeout, s.options()
(120, ['--timeout', '30', '--notebook-timeout', '120', '--memory-mb', '4096'])
>>> Settings.from_json(s.to_json()) == s, s.limits().cpu_s > s.notebook_timeout
(True, True)
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from course_tools.grading.sandbox import DEFAULT_MEMORY_MB, Limits


@dataclass(frozen=True)
class Settings:
    """How notebooks are graded (see the module's docstring)."""

    timeout: float = 300                         # seconds one cell may run
    notebook_timeout: float | None = None        # seconds the whole notebook may run, restarts included (None:
    #                                              2 x timeout + 60)
    memory_mb: int | None = DEFAULT_MEMORY_MB    # the kernel's address space in MiB (0 or None: no limit)
    network: bool = False                        # True: the kernel keeps the network
    private_checks: Path | None = None           # an instructor's folder of private checks

    def __post_init__(self):
        if not self.notebook_timeout:
            object.__setattr__(self, "notebook_timeout", 2 * self.timeout + 60)

    @classmethod
    def from_args(cls, args) -> Settings:
        """From the parsed command line (:func:`course_tools.grading.cli.build_parser`)."""
        return cls(timeout=args.timeout, notebook_timeout=args.notebook_timeout, memory_mb=args.memory_mb,
                   network=args.allow_network, private_checks=args.private_checks)

    def options(self) -> list[str]:
        """The command-line options that give these settings (a grading process of batch mode gets them)."""
        options = ["--timeout", str(self.timeout), "--notebook-timeout", str(self.notebook_timeout),
                   "--memory-mb", str(self.memory_mb or 0)]
        if self.private_checks is not None:
            options += ["--private-checks", str(Path(self.private_checks).resolve())]
        if self.network:
            options.append("--allow-network")
        return options

    def limits(self) -> Limits:
        """The graded kernel's limits; its CPU time is bounded by the notebook's time limit on every core."""
        return Limits(memory_mb=self.memory_mb or None, network=self.network,
                      cpu_s=int(self.notebook_timeout * (os.cpu_count() or 1)) + 60)

    def to_json(self) -> dict:
        """What a Gradescope bundle's ``settings.json`` holds of them (never the instructor's own folders)."""
        return {"timeout": self.timeout, "notebook_timeout": self.notebook_timeout, "memory_mb": self.memory_mb or 0,
                "allow_network": self.network}

    @classmethod
    def from_json(cls, data: dict) -> Settings:
        """From a bundle's ``settings.json``; what it leaves out is the command line's default."""
        memory = data.get("memory_mb")
        return cls(timeout=float(data.get("timeout", 300)), notebook_timeout=data.get("notebook_timeout"),
                   memory_mb=DEFAULT_MEMORY_MB if memory is None else int(memory),
                   network=bool(data.get("allow_network", False)))

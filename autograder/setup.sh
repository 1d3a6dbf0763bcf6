#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image; the zip is unpacked in /autograder/source.
# It installs Python and the course exactly as pinned (requirements.txt), in a virtual environment that
# run_autograder uses. Built by: python -m course_tools.grade bundle --gradescope autograder.zip
set -euo pipefail
SOURCE="${AUTOGRADER_SOURCE:-/autograder/source}"
COURSE="$SOURCE/course"

if ! python3 -c 'import sys, ensurepip; assert sys.version_info >= (3, 10)' 2>/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends python3 python3-venv python3-pip
fi
python3 -c 'import sys; assert sys.version_info >= (3, 10), "the course needs Python 3.10 or newer: pick a newer base image"'

python3 -m venv "$COURSE/.venv"
PIP=("$COURSE/.venv/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --upgrade pip
# torch from PyTorch's CPU index first (the grader needs no GPU; the default wheel pulls in CUDA libraries)
TORCH_PIN="$(grep -E '^torch==' "$COURSE/requirements.txt" || true)"
if [ -n "$TORCH_PIN" ]; then
    "${PIP[@]}" install "$TORCH_PIN" --index-url https://download.pytorch.org/whl/cpu || echo "CPU wheel not found: using PyPI's"
fi
"${PIP[@]}" install -r "$COURSE/requirements.txt"
"${PIP[@]}" install --no-deps -e "$COURSE"
"$COURSE/.venv/bin/python" -c 'import course_tools.grade; print("course installed: the grader imports")'

# Two commands do all set-up on a fresh machine:
#   make lab    create .venv (if needed), install the pinned course packages, open JupyterLab on your workspace
#   make test   create/refresh .venv with the test tools and run every test
# Every target runs course.py (standard library only), the one implementation of these steps; on Windows, where there
# is no make, `py course.py lab` / `py course.py test` do exactly the same. `make -n TARGET` shows its commands.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
LAB_PORT ?= 8888
PYTEST_WORKERS ?= 2
# arguments for `make progress`, e.g. make progress ARGS=--grade
ARGS ?=
# the folder `make wheelhouse` fills; `COURSE_WHEELHOUSE=DIR make lab` then installs from it alone (no network)
WHEELHOUSE ?= wheelhouse
# make -n / -q / -t: course.py only prints what it would do. The `+` before a recipe line runs it even then.
DRY = $(if $(findstring n,$(firstword -$(MAKEFLAGS)))$(findstring q,$(firstword -$(MAKEFLAGS)))$(findstring t,$(firstword -$(MAKEFLAGS))),--dry-run)
COURSE = +@$(PYTHON) course.py $(DRY) --port $(LAB_PORT) --workers $(PYTEST_WORKERS)

.PHONY: lab test loopback venv dev notebooks check-notebooks clean-venv help test-portable site progress wheelhouse classroom

help:
	@echo "make lab       - set up (first time) and open the course in JupyterLab"
	@echo "make test      - set up with test tools and run the whole test suite"
	@echo "make progress  - your progress per notebook in my-work/ (make progress ARGS=--grade: grade them)"
	@echo "make wheelhouse WHEELHOUSE=DIR - an offline workshop kit: every pinned wheel, 4 platforms"
	@echo "sudo make classroom - a JupyterHub for a room on this Linux machine (deploy/jupyterhub/README.md)"
	@echo "Windows (no make): py course.py lab | test | progress"

# Set-up only: the venv with the pinned packages (reinstalled only when requirements.txt or pyproject.toml changed),
# and (dev) the test tools on top (when requirements-dev.txt changed).
venv:
	$(COURSE) venv
dev:
	$(COURSE) dev

lab:
	$(COURSE) lab

# Unit, check, grader and browser tests; then every solution under nbval strict; then the solutions and the learner
# notebooks on one simulated other machine (tests/portability.py: forced faiss/torch code paths, thread count).
# With the network cut (`unshare -n make test`, Linux) the loopback interface is brought up first (see course.py).
test:
	$(COURSE) test

# Every solution under nbval strict on 8 simulated machines (faiss generic/avx2 x torch default/avx2 x 1/2 threads);
# `make test` runs one of them per day, this runs all (about 8 x 4 min on 2 cores).
test-portable:
	$(COURSE) test-portable

loopback:
	$(COURSE) loopback

notebooks:
	$(COURSE) notebooks

check-notebooks:
	$(COURSE) check-notebooks

# The course as an offline website (executed solutions, math, widgets in their saved state) in _build/site.
site:
	$(COURSE) site

progress:
	$(COURSE) progress $(ARGS)

# A JupyterHub for a room on this Linux machine, as root (deploy/jupyterhub/README.md), e.g.
#   sudo make classroom ARGS="--ip 0.0.0.0 --port 8000 --memory-mb 4096"
classroom:
	$(COURSE) classroom $(ARGS)

# An offline workshop kit: every pinned wheel for Linux, macOS (x86-64, arm64) and Windows in $(WHEELHOUSE);
# with COURSE_WHEELHOUSE=$(WHEELHOUSE) set, `make lab` / `make test` install from it and nothing else.
wheelhouse:
	$(COURSE) wheelhouse $(WHEELHOUSE)

clean-venv:
	$(COURSE) clean-venv

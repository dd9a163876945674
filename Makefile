# Two commands do all the set-up on a fresh machine:
#   make repro   create .venv if missing, install the pinned dependencies, run `dvc repro`
#   make test    the same set-up, then the test suite
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ganlab-installed

.PHONY: repro test setup preset clean-venv mlflow-server

setup: $(STAMP)

# Reinstall when the pins change. facenet-pytorch pins torch<2.3 and numpy<2 in its metadata,
# yet its MTCNN runs on the pins of pyproject.toml: install it without its dependencies.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps facenet-pytorch==2.6.0
	touch $(STAMP)

repro: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dvc repro

# The suite on every core (JOBS=0: in one process, no workers), each test module on one worker so its DVC repo
# is built once, the slowest modules first (tests/conftest.py, SLOW_FIRST; not xdist's order by
# test count), and one torch thread per process: two workers' OpenMP threads spinning against
# each other on two cores made a training step ten times slower.
JOBS ?= auto
test: $(STAMP)
	OMP_NUM_THREADS=1 PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -n $(JOBS) --dist loadfile --no-loadscope-reorder

# make preset P=razzaq-cdcgan64: merge presets/$(P).yaml into params.yaml, run it as a named experiment
preset: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m ganlab.presets $(P)

# make mlflow-server [PORT=5000]: a team's MLflow tracking server (SQLite store, artifact proxy) in
# .mlflow-server/; run the pipeline with MLFLOW_TRACKING_URI=http://127.0.0.1:$(PORT) (docs/team.md)
PORT ?= 5000
mlflow-server: $(STAMP)
	$(BIN)/python -m ganlab.server --port $(PORT)

clean-venv:
	rm -rf $(VENV)

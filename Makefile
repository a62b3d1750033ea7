# The README's commands. Each creates .venv and installs what it needs.
#   make demo   train SimpleCNN on the bundled digits and write a run folder under runs/
#   make test   install every backend, fetch Fashion-MNIST (Debian package), run pytest per backend
#   make docs   build the documentation site with --strict (tutorials are executed)
#   make lint   ruff
#   make bench  measure this machine: benchmarks/run.py (about 40 minutes on 2 cores)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BACKENDS := tensorflow jax torch
DEMO_BACKEND ?= jax
DOCS_BACKEND ?= jax
PYTEST_ARGS ?= -n 2
export TF_CPP_MIN_LOG_LEVEL := 2
export NO_MKDOCS_2_WARNING := 1

# CPU build of PyTorch (installed before kcnn so that the `torch` extra is already met).
TORCH_SPEC ?= torch==2.13.0
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test docs lint bench fashion-mnist clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[$(DEMO_BACKEND)]"
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[tensorflow-cpu,jax,torch,dev,docs]"
	touch $@

demo: $(VENV)/.demo-installed
	KERAS_BACKEND=$(DEMO_BACKEND) $(BIN)/kcnn train --model simple_cnn --dataset digits --epochs 10 --out runs

# Real Fashion-MNIST for the learning checks: Debian's dataset-fashion-mnist package.
fashion-mnist:
	@if [ -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ]; then \
	  echo "Fashion-MNIST: /usr/share/datasets/fashion-mnist"; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist) \
	    || echo "warning: could not install dataset-fashion-mnist; real-data checks will be skipped outside CI"; \
	else \
	  echo "warning: no apt-get; real-data checks need Fashion-MNIST in \$$KCNN_DATA_DIR"; \
	fi

test: $(VENV)/.test-installed fashion-mnist
	@status=0; for backend in $(BACKENDS); do \
	  echo "=== pytest, KERAS_BACKEND=$$backend ==="; \
	  KERAS_BACKEND=$$backend $(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) \
	    || status=1; \
	done; exit $$status

docs: $(VENV)/.test-installed
	rm -rf .cache/mkdocs-jupyter  # execute the tutorials on every build
	KERAS_BACKEND=$(DOCS_BACKEND) $(BIN)/mkdocs build --strict

bench: $(VENV)/.test-installed fashion-mnist
	$(BIN)/python benchmarks/run.py

lint: $(VENV)/.test-installed
	$(BIN)/ruff check kcnn tests benchmarks docs recipes
	$(BIN)/ruff format --check kcnn tests benchmarks docs recipes

clean:
	rm -rf $(VENV) site runs .pytest_cache

# The README's commands. Each creates .venv and installs what it needs.
#   make demo   train SimpleCNN on the bundled digits and write a run folder under runs/
#   make test   install every backend, fetch Fashion-MNIST (Debian package), run pytest per backend
#   make docs   install as make test does (Fashion-MNIST included: tutorials 02, 04 and 05 load
#               it), then build the documentation site with --strict (tutorials are executed)
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
# JAX draws new weights of each shape with a program it compiles first; its default
# ("partitionable" threefry) compiles a larger one: ResNet-20 builds in 7 s instead of 2 s on
# a CPU. The other numbers are as random. Set for every command here (demo, tests, docs, bench).
export JAX_THREEFRY_PARTITIONABLE ?= 0
export NO_MKDOCS_2_WARNING := 1

# CPU build of PyTorch (installed before kcnn so that the `torch` extra is already met).
TORCH_SPEC ?= torch==2.13.0
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test docs lint bench fashion-mnist clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# One stamp per backend, so that `make demo DEMO_BACKEND=torch` after `make demo` installs torch.
$(VENV)/.demo-installed-$(DEMO_BACKEND): pyproject.toml | $(BIN)/python
	$(if $(filter torch,$(DEMO_BACKEND)),$(BIN)/pip install -q "$(TORCH_SPEC)")
	$(BIN)/pip install -q -e ".[$(DEMO_BACKEND)]"
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[tensorflow-cpu,tensorboard,jax,torch,stream,tfds,dev,docs,export]"
	touch $@

demo: $(VENV)/.demo-installed-$(DEMO_BACKEND)
	KERAS_BACKEND=$(DEMO_BACKEND) $(BIN)/kcnn train --model simple_cnn --dataset digits --epochs 10 --out runs

# Real Fashion-MNIST for the tutorials (make docs) and the learning checks (make test, make
# bench). Nothing to do when the four IDX files already lie where kcnn.data.load_dataset looks,
# in its order: $KCNN_DATA_DIR, Debian's folder, the Keras cache ($KERAS_HOME/datasets/, where
# keras.datasets.fashion_mnist.load_data() downloads them). Else Debian's dataset-fashion-mnist.
FASHION_MNIST_DIRS = \
  $(if $(KCNN_DATA_DIR),$(KCNN_DATA_DIR)/fashion-mnist $(KCNN_DATA_DIR)/fashion_mnist $(KCNN_DATA_DIR)) \
  /usr/share/datasets/fashion-mnist \
  $(or $(KERAS_HOME),$(HOME)/.keras)/datasets/fashion-mnist \
  $(or $(KERAS_HOME),$(HOME)/.keras)/datasets/fashion_mnist
IDX_FILES := train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte

fashion-mnist:
	@for dir in $(FASHION_MNIST_DIRS); do \
	  found=yes; \
	  for f in $(IDX_FILES); do [ -f "$$dir/$$f.gz" ] || [ -f "$$dir/$$f" ] || found=no; done; \
	  if [ $$found = yes ]; then echo "Fashion-MNIST: $$dir"; exit 0; fi; \
	done; \
	if command -v apt-get >/dev/null 2>&1; then \
	  ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist) \
	    || echo "warning: could not install dataset-fashion-mnist; kcnn will try Keras' download" \
	      "(if that fails too, make docs fails and make test skips the real-data checks outside CI)"; \
	else \
	  echo "warning: no apt-get; put the four Fashion-MNIST IDX files in \$$KCNN_DATA_DIR," \
	    "else kcnn will try Keras' download (if that fails too, make docs fails)"; \
	fi

test: $(VENV)/.test-installed fashion-mnist
	@status=0; for backend in $(BACKENDS); do \
	  echo "=== pytest, KERAS_BACKEND=$$backend ==="; \
	  KERAS_BACKEND=$$backend $(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) \
	    || status=1; \
	done; exit $$status

# The tutorials load Fashion-MNIST (02, 04, 05) and the digits, which scikit-learn ships.
docs: $(VENV)/.test-installed fashion-mnist
	rm -rf .cache/mkdocs-jupyter  # execute the tutorials on every build
	KERAS_BACKEND=$(DOCS_BACKEND) IPYTHONDIR=$(CURDIR)/docs/.ipython $(BIN)/mkdocs build --strict

bench: $(VENV)/.test-installed fashion-mnist
	$(BIN)/python benchmarks/run.py

lint: $(VENV)/.test-installed
	$(BIN)/ruff check kcnn tests benchmarks docs recipes
	$(BIN)/ruff format --check kcnn tests benchmarks docs recipes

clean:
	rm -rf $(VENV) site runs .pytest_cache

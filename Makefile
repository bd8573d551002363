# ML Use-Case Cookbook. `make run` and `make test` set everything up themselves.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.cookbook-installed
PORT   ?= 5000
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
export MLFLOW_DISABLE_TELEMETRY ?= true

.PHONY: help setup run test test-fast bench ui lint format strip clean distclean

help:
	@echo "make run        set up, then execute every notebook on the embedded data and summarise"
	@echo "make test       set up, then run the unit and notebook smoke tests"
	@echo "make bench      set up, then run the benchmarks (benchmarks/results.json and .md; ~1 h)"
	@echo "make ui         MLflow UI on http://127.0.0.1:$(PORT)"
	@echo "make lint       ruff on the package, tests and notebooks; check notebooks are stripped"
	@echo "make strip      remove outputs from the notebooks (before committing)"
	@echo "make clean      remove outputs, the MLflow store and cached data (keeps the venv)"
	@echo "make distclean  clean, and remove the venv"

setup: $(STAMP)

$(STAMP): requirements.txt requirements-build.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "error: $(PYTHON) not found. The cookbook needs Python 3.11:"; \
	  echo "  Debian/Ubuntu: sudo apt-get install python3.11 python3.11-venv"; \
	  echo "  macOS: brew install python@3.11   any OS: pyenv install 3.11"; \
	  echo "or point make at one: make PYTHON=/path/to/python3.11 ..."; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> installing into $(VENV) (first time: a few minutes)"
	$(PIP) install --upgrade pip wheel
	@# ucrdtw's setup.py imports numpy and uses numpy.distutils; fastdtw needs Cython present
	@# to build its C extension. So: build tools first, then both without build isolation.
	$(PIP) install "numpy>=2.2,<2.5" "Cython>=3" "setuptools>=65,<70"
	SETUPTOOLS_USE_DISTUTILS=stdlib $(PIP) install --no-build-isolation --no-binary fastdtw \
	  -r requirements-build.txt
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name cookbook \
	  --display-name "Python 3 (ML Cookbook)" >/dev/null
	@# PySpark needs Java 17+: fail here, with instructions, rather than deep inside a notebook
	@$(BIN)/python -c "from cookbook.spark import ensure_java; ensure_java()"
	@touch $(STAMP)

run: setup
	$(BIN)/python -m cookbook.runner $(CHAPTERS)

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/python -m pytest -m "not notebook and not spark" $(PYTEST_ARGS)

bench: setup
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

ui: setup
	$(BIN)/mlflow ui --host 127.0.0.1 --port $(PORT) --backend-store-uri \
	  "$$($(BIN)/python -c "from cookbook.tracking import setup_mlflow; print(setup_mlflow())")"

lint: setup
	$(BIN)/ruff check src tests notebooks benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/nbstripout --verify notebooks/*.ipynb

format: setup
	$(BIN)/ruff check --fix src tests notebooks benchmarks
	$(BIN)/ruff format src tests benchmarks

strip: setup
	$(BIN)/nbstripout notebooks/*.ipynb

clean:
	rm -rf output mlruns .pytest_cache .ruff_cache
	find data -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
	find . -name __pycache__ -type d -prune -not -path "./$(VENV)/*" -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) src/*.egg-info

# ML Use-Case Cookbook. `make run` and `make test` set everything up themselves.
PYTHON   ?= python3.11
VENV     ?= .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.cookbook-installed
PORT     ?= 5000
LAB_PORT ?= 8888
PIP      := $(BIN)/python -m pip --disable-pip-version-check -q
export MLFLOW_DISABLE_TELEMETRY ?= true

# What `make setup` installs, hash-checked (`make lock` writes them from the .txt files):
#   requirements.lock        runtime: requirements.txt (+ the package's own dependencies)
#   requirements-build.lock  runtime, built from source here: requirements-build.txt
#   requirements-dev.lock    development and build tools: requirements-dev.txt
LOCKS := requirements.lock requirements-build.lock requirements-dev.lock

# The lock tool is uv (pinned in requirements-dev.txt, so it is in the venv) rather than
# pip-tools: it resolves the ~220 packages in seconds, writes the sha256 of every file for pip's
# --require-hashes, and resolves for a named platform, so a lock written on any machine is the
# one for Linux x86_64 + Python 3.11, the platform the stack is verified on (tensorflow-cpu 2.21
# has no macOS wheels); pip-compile resolves only for the machine it runs on. Installing stays
# plain pip. `make lock UV=uv` uses a uv from PATH instead (e.g. if the venv cannot be built).
UV         ?= $(BIN)/uv
LOCK_ARGS  ?=
UV_COMPILE  = $(UV) pip compile --quiet --no-config --python-version 3.11 \
  --python-platform x86_64-manylinux_2_28 --generate-hashes --custom-compile-command "make lock" \
  $(LOCK_ARGS)

# Where ruff formats (and `make lint` checks the format): the notebooks' code cells too.
RUFF_FORMAT_PATHS := src tests benchmarks notebooks

.PHONY: help setup lock run book test test-fast bench ui lab lint format strip clean distclean

help:
	@echo "make run        set up, then execute every notebook on the embedded data and summarise (EDITION=ko: the Korean edition)"
	@echo "make book       set up, then the executed notebooks as an HTML book, English and Korean (build/book/html)"
	@echo "make test       set up, then run the unit and notebook smoke tests"
	@echo "make test-fast  set up, then run the quick unit tests only (no notebooks, Spark or servers)"
	@echo "make lab        set up, then JupyterLab on the notebooks: http://127.0.0.1:$(LAB_PORT)/lab"
	@echo "make setup      create $(VENV) and install the locked requirements (run/test do it)"
	@echo "make lock       re-resolve requirements*.txt into the hashed requirements*.lock files"
	@echo "make bench      set up, then run the benchmarks (chapter notebooks at benchmark sizes; ~40 min)"
	@echo "make ui         MLflow UI on http://127.0.0.1:$(PORT)"
	@echo "make lint       ruff on the package, tests and notebooks; check notebooks are stripped"
	@echo "make format     ruff --fix and ruff format (the paths that lint checks)"
	@echo "make strip      remove outputs from the notebooks (before committing)"
	@echo "make clean      remove outputs, the MLflow store and cached data (keeps the venv)"
	@echo "make distclean  clean, and remove the venv"
	@echo "make help       this list"

# Removes from the venv what none of the locks lists (left by an older lock or a manual
# `pip install`), so that the venv is exactly the locks plus the project itself.
define PRUNE
import importlib.metadata as md, re, subprocess, sys
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
locked = {"ml-cookbook"}
for path in sys.argv[1:]:
    for line in open(path):
        m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^]]*\])?==", line)
        if m:
            locked.add(norm(m.group(1)))
extra = sorted({norm(d.metadata["Name"] or "") for d in md.distributions()} - locked - {""})
if extra:
    print("==> removing what the locks do not list:", " ".join(extra))
    subprocess.check_call([sys.executable, "-m", "pip", "uninstall", "-y", "-q", *extra])
endef
export PRUNE

setup: $(STAMP)

$(STAMP): $(LOCKS) pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "error: $(PYTHON) not found. The cookbook needs Python 3.11:"; \
	  echo "  Debian/Ubuntu: sudo apt-get install python3.11 python3.11-venv"; \
	  echo "  macOS: brew install python@3.11   any OS: pyenv install 3.11"; \
	  echo "or point make at one: make PYTHON=/path/to/python3.11 ..."; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> installing into $(VENV) (first time: a few minutes)"
	@# 1. Everything that comes as wheels, at the locked versions, every file hash-checked:
	@#    the runtime stack and the development tools (whose pip replaces the venv's own and
	@#    whose Cython step 2 needs). The runtime lock brings setuptools>=78.1.1 (no old one).
	$(PIP) install --require-hashes -r requirements.lock -r requirements-dev.lock
	@# 2. ucrdtw and fastdtw from their hashed sdists: their setup.py imports numpy (ucrdtw
	@#    through numpy.distutils, hence SETUPTOOLS_USE_DISTUTILS=stdlib) and fastdtw compiles
	@#    its C extension only when Cython is importable, so no build isolation.
	SETUPTOOLS_USE_DISTUTILS=stdlib $(PIP) install --require-hashes --no-deps \
	  --no-build-isolation --no-binary fastdtw -r requirements-build.lock
	@$(BIN)/python -c "$$PRUNE" $(LOCKS)
	$(PIP) install --no-deps --no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name cookbook \
	  --display-name "Python 3 (ML Cookbook)" >/dev/null
	@# PySpark needs Java 17+: fail here, with instructions, rather than deep inside a notebook
	@$(BIN)/python -c "from cookbook.spark import ensure_java; ensure_java()"
	@touch $(STAMP)

# Re-resolve after editing a requirements*.txt (then commit the .txt and the .lock together).
# Versions already in a lock are kept unless a requirement forces a change; upgrade with
# `make lock LOCK_ARGS=--upgrade` (everything) or `LOCK_ARGS="--upgrade-package keras"`.
# requirements-build.txt is locked without dependencies: its packages' setup.py cannot run in
# an isolated build, and their one dependency, numpy, is in requirements.lock.
lock:
	@command -v $(UV) >/dev/null 2>&1 || $(MAKE) setup
	@# --python-platform: a lock written on any machine is the Linux x86_64 one (see UV above)
	$(UV_COMPILE) requirements.txt pyproject.toml -o requirements.lock
	$(UV_COMPILE) --no-deps requirements-build.txt -o requirements-build.lock
	$(UV_COMPILE) requirements-dev.txt -c requirements.lock -o requirements-dev.lock

# EDITION=ko runs the Korean edition (notebooks/ko/: the same code, prose in Korean).
EDITION ?= en

run: setup
	$(BIN)/python -m cookbook.runner --language $(EDITION) $(CHAPTERS)

# The book, offline, from the notebooks `make run` executed (output/<chapter>/): both languages
# into build/book/html/. BOOK_ARGS=--smoke-missing first executes, in smoke mode, any chapter
# that has no executed notebook; CHAPTERS="1 8" builds those chapters only.
BOOK_ARGS ?=
book: setup
	$(BIN)/python -m cookbook.book $(BOOK_ARGS) $(CHAPTERS)

# Everything except the chapters at full settings (marker `full`, minutes each): run those with
# `make test TEST_MARKERS=full`, or everything with TEST_MARKERS="". Marker `modes` (every
# chapter again over Spark Connect and on a standalone cluster, tests/test_modes.py) is part of
# it; `make test TEST_MARKERS="not full and not modes"` leaves it out (about 12 minutes less).
DEFAULT_MARKERS := not full
TEST_MARKERS ?= $(DEFAULT_MARKERS)
# Two pytest-xdist workers; a test file runs on one worker, and each chapter's notebook tests
# are one file (tests/test_notebook_ch*.py), so a chapter's notebook runs once.
# TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2

# Plain `make test` runs in two steps: first everything else on the xdist workers, the notebook
# tests leaving each chapter's executed smoke run and its results in $(TEST_EXECUTED) (and the
# modes tier its Connect and cluster runs' results); then the book test, which builds every
# chapter's page from those runs (no chapter executed twice) and checks them in Chromium, and
# the repeat test, which compares each chapter's three runs. With other TEST_MARKERS or any
# PYTEST_ARGS: one pytest run (the book: chapter 1; the repeat test skips).
TEST_EXECUTED := $(CURDIR)/build/test-executed
AFTER_TESTS := tests/test_book.py tests/test_repeat.py
PYTEST_XDIST   = $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test: setup
ifeq ($(TEST_MARKERS)|$(strip $(PYTEST_ARGS)),$(DEFAULT_MARKERS)|)
	@rm -rf $(TEST_EXECUTED)
	@# the book step runs even when the first fails (its own result is worth having); make
	@# fails if either did
	status=0; \
	COOKBOOK_TEST_EXECUTED=$(TEST_EXECUTED) $(PYTEST_XDIST) -m "$(TEST_MARKERS)" \
	  $(addprefix --ignore=,$(AFTER_TESTS)) || status=$$?; \
	COOKBOOK_TEST_EXECUTED=$(TEST_EXECUTED) $(BIN)/python -m pytest -m "$(TEST_MARKERS)" \
	  $(AFTER_TESTS) || status=$$?; \
	exit $$status
else
	env -u COOKBOOK_TEST_EXECUTED \
	  $(PYTEST_XDIST) $(if $(TEST_MARKERS),-m "$(TEST_MARKERS)") $(PYTEST_ARGS)
endif

# Quick tier: no notebooks, no Spark session or cluster, no servers, nothing marked slow.
FAST_MARKERS := not notebook and not spark and not cluster and not connect and not postgis \
  and not browser and not slow

test-fast: setup
	$(BIN)/python -m pytest -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

# Notebooks in JupyterLab, on loopback only; the kernel "Python 3 (ML Cookbook)" is the venv.
# Jupyter refuses to run as root unless told: containers often are root, so tell it there.
lab: setup
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(LAB_PORT) \
	  --ServerApp.root_dir=notebooks --MappingKernelManager.default_kernel_name=cookbook \
	  $$(test "$$(id -u)" = 0 && echo --allow-root) $(LAB_ARGS)

bench: setup
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

ui: setup
	$(BIN)/mlflow ui --host 127.0.0.1 --port $(PORT) --backend-store-uri \
	  "$$($(BIN)/python -c "from cookbook.tracking import setup_mlflow; print(setup_mlflow())")"

lint: setup
	$(BIN)/ruff check src tests notebooks benchmarks
	$(BIN)/ruff format --check $(RUFF_FORMAT_PATHS)
	$(BIN)/nbstripout --verify notebooks/*.ipynb notebooks/ko/*.ipynb

format: setup
	$(BIN)/ruff check --fix src tests notebooks benchmarks
	$(BIN)/ruff format $(RUFF_FORMAT_PATHS)

strip: setup
	$(BIN)/nbstripout notebooks/*.ipynb notebooks/ko/*.ipynb

clean:
	rm -rf output build mlruns .pytest_cache .ruff_cache
	find data -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
	find . -name __pycache__ -type d -prune -not -path "./$(VENV)/*" -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) src/*.egg-info

# Two commands do everything on a fresh machine with Python 3.11, pip, make and git:
#   make run    build the graph from seeds/ into output/
#   make test   run the whole test suite (browser, notebook and training tests included)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.kg-installed

.PHONY: run test test-fast browser-deps bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/kg build seeds --out output

# Debian's chromium and a CJK font for the browser tests; skipped when already present.
browser-deps:
	@command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi wenquanyi || \
	  { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null; \
	    else echo "browser-deps: run as root, or install chromium and fonts-wqy-zenhei" >&2; fi; }

test: $(STAMP) browser-deps
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) output/*.ttl output/*.html output/*.jsonl

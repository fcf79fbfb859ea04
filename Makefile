# Two commands do everything on a fresh machine with Python 3.11, pip, make and git:
#   make run    build the graph from seeds/ into output/
#   make test   run the whole test suite (browser, notebook and training tests included)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.kg-installed

.PHONY: run test test-fast browser-deps bench bytecode clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# kg's own modules as bytecode, as a regular (not editable) install has them. An editable install
# leaves them to be written at their first import, which PYTHONDONTWRITEBYTECODE (set on some machines)
# prevents, and every process then compiles them again: 0.1 s of a one-file rebuild of the seeds x200.
# Files already compiled are only looked at.
bytecode: $(STAMP)
	@$(PY) -m compileall -q kg

run: $(STAMP) bytecode
	$(VENV)/bin/kg build seeds --out output

# Debian's chromium and a CJK font for the browser tests; skipped when already present.
browser-deps:
	@command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi wenquanyi || \
	  { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null; \
	    else echo "browser-deps: run as root, or install chromium and fonts-wqy-zenhei" >&2; fi; }

test: $(STAMP) bytecode browser-deps
	$(PY) -m pytest

test-fast: $(STAMP) bytecode
	$(PY) -m pytest -m "not slow"

bench: $(STAMP) bytecode
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) output/*.ttl output/*.html output/*.jsonl

# candlebench: `make bench` runs the comparison, `make test` runs the tests; `make help` lists the rest.
# Python: .python-version (3.13) picks the interpreter through pyenv's `python3` shim;
# PYTHON=/path/to/python3.13 overrides it. django-bolt needs 3.12 or newer.
# DJANGO=6.1.3 builds a venv of its own with that Django release over the pinned one (5.2 LTS),
# for running the suite on Django's current release: `make test-fast DJANGO=6.1.3`.
# STACK=2023-08 (a folder of stacks/) builds that stack's venv, .venv-stack-2023-08, from its
# requirements.txt with the Python its .python-version names (pyenv's): docs/stacks.md.
PYTHON ?= python3
PYTHON_MIN := 3.12
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null)
DJANGO ?=
VENV := $(if $(DJANGO),.venv-django-$(DJANGO),.venv)
PY := $(VENV)/bin/python
# The stamp names the interpreter's version: another version rebuilds the venv from scratch.
STAMP := $(VENV)/.installed-python-$(PYTHON_VERSION)
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/candlebench
BENCH_ARGS ?=
PYTEST_ARGS ?=
LOCUST_HOST ?= http://127.0.0.1:8000
LOCUST_ARGS ?=
# What `make test-fast` leaves out: tests that start servers, drive a browser, run valgrind or
# make network namespaces (pytest markers, pyproject.toml).
FAST := not live and not browser and not valgrind and not netns
STACK ?=
# What runs on the stacks of 2023 (Python 3.11) too: `make lint` type-checks it as 3.11 as well
# (ruff's per-file-target-version in pyproject.toml does the same for its rules).
PY311_CODE := candleproject candles loadtest/reference
STACKS := $(sort $(patsubst stacks/%/requirements.txt,%,$(wildcard stacks/*/requirements.txt)))
PYENV_VERSIONS := $${PYENV_ROOT:-$$HOME/.pyenv}/versions
comma := ,
space := $(subst ,, )

.PHONY: help venv stack stacks lint fmt test test-fast test-postgres run bench bench-full then-and-now cache spike soak tablesize locust micro clean

help: ## this list
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  make \1\t\2/' | expand -t 22

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < tuple(map(int, "$(PYTHON_MIN)".split("."))))' 2>/dev/null || { \
		echo "candlebench needs Python >= $(PYTHON_MIN) (django-bolt); '$(PYTHON)' is $(or $(PYTHON_VERSION),not found)." >&2; \
		echo "Install the version in .python-version (pyenv install 3.13) or run make PYTHON=/path/to/python3.13." >&2; \
		exit 1; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(if $(DJANGO),$(PY) -m pip install --quiet "Django==$(DJANGO)")
	touch $(STAMP)

venv: $(STAMP) ## build .venv from requirements*.txt (again when they change)

# A stack's venv: its pinned set alone (--no-deps: pip picks nothing), all wheels, then pip check.
.venv-stack-%/.installed: stacks/%/requirements.txt stacks/%/.python-version
	@version=$$(cat stacks/$*/.python-version); python=$(PYENV_VERSIONS)/$$version/bin/python3; \
	test -x "$$python" || { \
		echo "stack $* needs Python $$version (stacks/$*/.python-version), not found at $$python:" >&2; \
		echo "install it with: pyenv install $$version" >&2; exit 1; }; \
	set -x; rm -rf .venv-stack-$*; "$$python" -m venv .venv-stack-$*
	.venv-stack-$*/bin/python -m pip install --quiet --no-deps --only-binary :all: -r stacks/$*/requirements.txt
	.venv-stack-$*/bin/python -m pip check
	touch $@

stack: ## build one stack's venv: make stack STACK=2023-08 (.venv-stack-2023-08; stacks/)
	@test -n "$(STACK)" -a -f "stacks/$(STACK)/requirements.txt" || { \
		echo "make stack STACK=NAME, NAME one of: $(STACKS)" >&2; exit 1; }
	@$(MAKE) --no-print-directory .venv-stack-$(STACK)/.installed

stacks: $(STACKS:%=.venv-stack-%/.installed) ## build every stack's venv, one per folder of stacks/

lint: venv ## ruff (lint and format check), mypy (the app as 3.11 too), import contracts, import cycles, the docs' links
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m mypy --python-version 3.11 $(PY311_CODE)
	$(VENV)/bin/lint-imports
	$(PY) tools/import_cycles.py
	$(PY) tools/doc_links.py

fmt: venv ## ruff: fix what it can, then format
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

test: venv ## the whole suite on SQLite
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: venv ## everything that needs no live server, browser, valgrind or network namespace
	$(PY) -m pytest -m "$(FAST)" $(PYTEST_ARGS)

test-postgres: venv ## the tests whose subject depends on the database engine, on PostgreSQL
	DATABASE_URL=$${DATABASE_URL:-$(POSTGRES_URL)} $(PY) -m pytest -m database $(PYTEST_ARGS)

run: venv ## Django's development server with sample data, on :8000
	$(PY) manage.py migrate --no-input
	$(PY) manage.py seed_candles --if-empty
	$(PY) manage.py runserver --insecure

# `make bench` serves the case study's variants from its own stack too: built here when pyenv
# has its Python (else make says what to install, and the runner leaves the stack out).
STUDY_STACK := 2023-08
bench: venv ## the comparison (python -m loadtest bench); BENCH_ARGS="--modes raw,drf ..."
	-@$(MAKE) --no-print-directory .venv-stack-$(STUDY_STACK)/.installed
	$(PY) -m loadtest bench $(BENCH_ARGS)

bench-full: venv ## the comparison at every limit on every server
	$(PY) -m loadtest bench --full $(BENCH_ARGS)

# The case study at its source (issue 28): its app and the Django modes of its day on every
# stack, today's too, in one session at 1 and 1000 rows, then its own load profile (~11 min).
THEN_AND_NOW_MODES := fastapi-model,fastapi-dict,fastapi-orjson,drf-validated,drf,ninja,json,orjson,msgspec,raw
then-and-now: venv stacks ## the case study's app and 2023's Django modes on the stacks of 2023 and today's, side by side
	$(PY) -m loadtest bench --stacks $(subst $(space),$(comma),today $(STACKS)) --servers fastapi,wsgi \
		--limits 1,1000 --modes $(THEN_AND_NOW_MODES) --no-capacity --no-instructions $(BENCH_ARGS)

# The cache setups at a request mix with a hit rate, under a writer (issue 30; not in make bench):
# short windows, about 8 min; the runner prints its estimate first.
cache: venv ## the cache setups at a request mix with a writer: hit ratio, req/s, p99, stale answers (python -m loadtest cachemix)
	$(PY) -m loadtest cachemix $(BENCH_ARGS)

spike: venv ## a spike of users: survive, answer and recover
	$(PY) -m loadtest spike $(BENCH_ARGS)

soak: venv ## minutes of steady load: memory and latency over time
	$(PY) -m loadtest soak $(BENCH_ARGS)

# The tail (issue 29): capacity at p99 <= 100 ms of the DRF and validated modes at 1000 rows,
# under Python's default collector and the recommended GC setup, from a tenth of each one's
# closed-loop maximum (windows up to 2 min for ~1,000 answers): ~45 min, printed up front.
TAIL_MODES := drf,drf-validated,ninja,msgspec,raw
TAIL_SWEEP := --modes $(TAIL_MODES) --limits 1000 --fractions 0.1,0.25,0.5,0.75 --max-window 120
.PHONY: tail
tail: venv ## the tail: capacity at p99 <= 100 ms per mode, default GC against the recommended (~45 min)
	$(PY) -m loadtest capacity $(TAIL_SWEEP) \
		--gc default,$$($(PY) -c 'from candles.api.gc_setups import RECOMMENDED; print(RECOMMENDED.name)') $(BENCH_ARGS)

tablesize: venv ## does latency depend on the table's size?
	$(PY) -m loadtest tablesize $(BENCH_ARGS)

micro: venv ## each mode's view timed in-process
	$(PY) manage.py migrate --no-input
	$(PY) manage.py seed_candles --if-empty
	$(PY) -m loadtest micro $(BENCH_ARGS)

locust: venv ## Locust's web UI against LOCUST_HOST (make run first), modes in its class picker
	$(VENV)/bin/locust -f loadtest/locustfile.py --class-picker --host $(LOCUST_HOST) $(LOCUST_ARGS)

clean: ## remove the venvs (the stacks' too) and the development database
	rm -rf .venv .venv-django-* .venv-stack-* db.sqlite3 db.sqlite3-wal db.sqlite3-shm

# candlebench: `make bench` runs the comparison, `make test` runs the tests.
# Python: .python-version (3.13) picks the interpreter through pyenv's `python3` shim;
# PYTHON=/path/to/python3.13 overrides it. django-bolt needs 3.12 or newer.
PYTHON ?= python3
PYTHON_MIN := 3.12
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null)
VENV := .venv
PY := $(VENV)/bin/python
# The stamp names the interpreter's version: another version rebuilds .venv from scratch.
STAMP := $(VENV)/.installed-python-$(PYTHON_VERSION)
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/candlebench
BENCH_ARGS ?=
LOCUST_HOST ?= http://127.0.0.1:8000
LOCUST_ARGS ?=

.PHONY: venv test test-postgres run bench bench-full spike soak tablesize locust micro clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < tuple(map(int, "$(PYTHON_MIN)".split("."))))' 2>/dev/null || { \
		echo "candlebench needs Python >= $(PYTHON_MIN) (django-bolt); '$(PYTHON)' is $(or $(PYTHON_VERSION),not found)." >&2; \
		echo "Install the version in .python-version (pyenv install 3.13) or run make PYTHON=/path/to/python3.13." >&2; \
		exit 1; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

test: venv
	$(PY) -m pytest

test-postgres: venv
	DATABASE_URL=$${DATABASE_URL:-$(POSTGRES_URL)} $(PY) -m pytest

run: venv
	$(PY) manage.py migrate --no-input
	$(PY) manage.py seed_candles --if-empty
	$(PY) manage.py runserver --insecure

bench: venv
	$(PY) -m loadtest $(BENCH_ARGS)

bench-full: venv
	$(PY) -m loadtest --full $(BENCH_ARGS)

spike: venv
	$(PY) -m loadtest spike $(BENCH_ARGS)

soak: venv
	$(PY) -m loadtest soak $(BENCH_ARGS)

tablesize: venv
	$(PY) -m loadtest.tablesize $(BENCH_ARGS)

micro: venv
	$(PY) manage.py migrate --no-input
	$(PY) manage.py seed_candles --if-empty
	$(PY) -m loadtest.micro

locust: venv
	$(VENV)/bin/locust -f loadtest/locustfile.py --host $(LOCUST_HOST) $(LOCUST_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm

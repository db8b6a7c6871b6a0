# candlebench: `make bench` runs the comparison, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/candlebench
BENCH_ARGS ?=
LOCUST_HOST ?= http://127.0.0.1:8000
LOCUST_ARGS ?=

.PHONY: venv test test-postgres run bench bench-full spike soak tablesize locust micro clean

$(STAMP): requirements.txt requirements-dev.txt
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

# The two commands the README promises: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup tools run test lint bench screenshots clean

$(BIN)/syncdeck: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

setup: $(BIN)/syncdeck

run: setup
	$(BIN)/syncdeck --profile demo $(ARGS)

# The end-to-end console test drives the real program in tmux (a Debian package); the
# PostgreSQL store tests and the SQL source's tests want the local PostgreSQL and MariaDB
# servers running (they skip, saying so, without one); the REST source's tests (and
# bench/restsource.py) serve their records with json-server 0.17.4, installed from npm into
# tests/jsonserver (its own package-lock.json) unless that version is there already.
JSON_SERVER := tests/jsonserver/node_modules/json-server/package.json

tools:
	@command -v tmux >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq tmux) \
		|| echo "tmux could not be installed: the tmux end-to-end tests will be skipped"
	@command -v promtool >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq prometheus) \
		|| echo "promtool could not be installed: the alert rules' tests will be skipped"
	@pg_isready -q -h 127.0.0.1 2>/dev/null \
		|| pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql 2>/dev/null | tail -1) main start 2>/dev/null \
		|| echo "PostgreSQL is not running here: the PostgreSQL store tests will be skipped"
	@mysqladmin -h 127.0.0.1 -u root ping >/dev/null 2>&1 || { \
		start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd 2>/dev/null; \
		for i in $$(seq 60); do \
			mysqladmin -h 127.0.0.1 -u root ping >/dev/null 2>&1 && break; sleep 0.5; \
		done; \
		mysqladmin -h 127.0.0.1 -u root ping >/dev/null 2>&1 \
			|| echo "MariaDB is not running here: the MariaDB source tests will be skipped"; }
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "npm is not installed: the REST source's json-server tests will be skipped"; \
	elif ! grep -q '"version": "0.17.4"' $(JSON_SERVER) 2>/dev/null; then \
		(cd tests/jsonserver && npm ci --silent --no-audit --no-fund) \
			|| echo "json-server could not be installed: the REST source's json-server tests will be skipped"; \
	fi

lint: setup
	$(BIN)/ruff check core console tests bench
	$(BIN)/ruff format --check core console tests bench
	$(BIN)/mypy
	$(BIN)/mypy bench

test: lint tools
	$(BIN)/pytest -q $(PYTEST_ARGS)

# Every script runs, whatever the one before it found; the verdicts are listed at the end,
# and the target fails if any script missed a target.
BENCHES := orchestrator sync console api postgres takeover sqlsource restsource

bench: setup tools
	@missed=""; \
	for b in $(BENCHES); do \
		echo "== bench/$$b.py"; \
		$(BIN)/python bench/$$b.py || missed="$$missed $$b"; \
	done; \
	echo "== verdicts"; \
	for b in $(BENCHES); do \
		case " $$missed " in *" $$b "*) echo "bench/$$b.py: MISSED a target";; \
		*) echo "bench/$$b.py: every target met";; esac; \
	done; \
	test -z "$$missed"

screenshots: setup
	PYTHONPATH=tests $(BIN)/python -m support.scenes screenshots

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

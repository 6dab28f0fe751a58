# The two commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test test-unit test-integration lint ops-tools check-ops check-dashboards schemas bench fuzz chaos soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## make run: the whole platform on embedded defaults (broker, SQLite, SMTP and SMS sandboxes)
run: $(STAMP)
	$(BIN)/lienthong run

## make test: every test, on the embedded defaults unless LIENTHONG_TEST_* point elsewhere
test: $(STAMP)
	$(BIN)/pytest -q

test-unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

test-integration: $(STAMP)
	$(BIN)/pytest -q tests/integration tests/e2e

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lienthong schemas export --check
	$(BIN)/python -m shared.catalog.json_schema --check

## make bench: figures, printed and written to var/bench/*.json (never a timed test)
bench: $(STAMP)
	$(BIN)/python -m bench.calendar_bench
	$(BIN)/python -m bench.intake_bench
	$(BIN)/python -m bench.intake_budget
	$(BIN)/python -m bench.inbox_bench
	$(BIN)/python -m bench.sla_sweep_bench
	$(BIN)/python -m bench.sla_rebuild_bench
	$(BIN)/python -m bench.consumer_bench
	$(BIN)/python -m bench.pipeline_bench --runs 3
	@if [ -n "$$LIENTHONG_BENCH_DATABASE_URL" ]; then \
	  $(BIN)/python -m bench.intake_bench --database-url "$$LIENTHONG_BENCH_DATABASE_URL" && \
	  $(BIN)/python -m bench.intake_budget --database-url "$$LIENTHONG_BENCH_DATABASE_URL" && \
	  $(BIN)/python -m bench.inbox_bench --database-url "$$LIENTHONG_BENCH_DATABASE_URL" && \
	  $(BIN)/python -m bench.sla_sweep_bench --database-url "$$LIENTHONG_BENCH_DATABASE_URL"; fi
	$(BIN)/python -m bench.summary

## make ops-tools: Debian's prometheus package (prometheus and promtool), for check-ops and check-dashboards
ops-tools:
	@if command -v prometheus >/dev/null && command -v promtool >/dev/null; then echo "prometheus: $$(command -v prometheus)"; \
	else SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq prometheus >/dev/null && echo "prometheus installed"; fi

## make check-ops: promtool (Debian's prometheus package) on the scrape config, the rules and the alert tests
check-ops:
	@command -v promtool >/dev/null || { echo "promtool not found: make ops-tools"; exit 1; }
	cd deploy/prometheus && promtool check config prometheus.yml && promtool check rules rules/alerts.yml rules/recording.yml \
	  && promtool test rules rules/alerts_test.yml

## make check-dashboards: a real Prometheus scrapes the running stack; every Grafana panel's query must return data
check-dashboards: $(STAMP)
	@command -v prometheus >/dev/null || { echo "prometheus not found: make ops-tools"; exit 1; }
	$(BIN)/pytest -q tests/e2e/test_dashboards_prometheus.py

## make fuzz: schemathesis on every API and hostile Kafka messages into every topic (LIENTHONG_FUZZ_EXAMPLES per operation)
fuzz: $(STAMP)
	LIENTHONG_FUZZ=1 LIENTHONG_FUZZ_EXAMPLES=$${LIENTHONG_FUZZ_EXAMPLES:-200} $(BIN)/pytest -q -rs tests/fuzz

## make chaos: SIGKILL each service, stop the broker (and PostgreSQL) under lienthong load; then exact checks.
## LIENTHONG_CHAOS_SECONDS (180), LIENTHONG_CHAOS_RATE (2 dossiers/s), LIENTHONG_CHAOS_SEED (1).
chaos: $(STAMP)
	LIENTHONG_CHAOS=1 $(BIN)/pytest -q -s tests/chaos

## make soak: lienthong load for 30 minutes at half the sustained pipeline rate on the embedded stack; memory and
## latency charted (terminal, var/bench/soak-<time>.png) and judged (var/bench/soak.json).
## LIENTHONG_SOAK_SECONDS (1800), LIENTHONG_SOAK_RATE (half of var/bench/pipeline.json's rate, else 2 dossiers/s).
soak: $(STAMP)
	$(BIN)/python -m bench.soak

schemas: $(STAMP)
	$(BIN)/lienthong schemas export

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

# billing-lakehouse: `make demo` and `make test` do all set-up on a fresh machine (Python 3.11, Java 17).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_ROWS ?= 20000
DEMO_SYSTEM_ROWS ?= 20000
BENCH_ROWS ?= 1000000
BENCH_SYSTEM_ROWS ?= 10000000

# The Delta Lake jars matching the pinned pyspark (4.0.x) and Hadoop's S3A connector matching Spark's Hadoop
# (pyspark 4.0 ships hadoop-client 3.4.1, whose hadoop-aws needs the AWS SDK bundle 2.24.6), from Maven Central.
# Local Spark sessions put them on the class path when present (pipelines/spark.py); without them (no mvn, or
# offline) everything still runs on the delta-rs backend.
JARS_DIR := jars
JARS_STAMP := $(JARS_DIR)/.fetched-v1
DELTA_VERSION := 4.0.1
MAVEN_ARTIFACTS := io.delta:delta-spark_2.13:$(DELTA_VERSION) io.delta:delta-storage:$(DELTA_VERSION) \
	org.apache.hadoop:hadoop-aws:3.4.1 software.amazon.awssdk:bundle:2.24.6
# The FOCUS 1.2 requirements model that pipelines/focus evaluates (pipelines/focus/fetch.py fetches it).
FOCUS_MODEL := .cache/focus/model-1.2.0.1.json

.DEFAULT_GOAL := help
.PHONY: help install jars local-fs browser demo test test-fast lint format bench bench-legacy bench-system bench-forecast bench-anomalies clean focus-check

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[local,dev]'
	touch $(STAMP)

install: $(STAMP) $(JARS_STAMP) $(FOCUS_MODEL) ## create .venv and install the project with its development tools, fetch the jars

$(JARS_STAMP):
	@mkdir -p $(JARS_DIR)
	@if command -v mvn >/dev/null; then \
		for artifact in $(MAVEN_ARTIFACTS); do \
			mvn -q -B dependency:copy -Dartifact=$$artifact -DoutputDirectory=$(JARS_DIR) \
				|| { echo "could not fetch $$artifact: the delta-spark backend and S3 need it"; exit 1; }; \
		done; \
		touch $@; \
	elif [ -n "$$BILLING_LAKEHOUSE_REQUIRE_JARS" ]; then \
		echo "no mvn: cannot fetch the Delta Lake and S3A jars"; exit 1; \
	else \
		echo "no mvn: local Spark runs without the Delta Lake and S3A jars (storage delta-rs only)"; \
	fi

jars: $(JARS_STAMP) ## fetch the Delta Lake and S3A jars from Maven Central into jars/ (needs mvn)

# The FOCUS 1.2 requirements model (and ISO 4217 codes) from the FinOps Foundation's focus-validator sdist on PyPI,
# checked against a pinned sha256; pipelines/focus evaluates it (the validator itself needs Python 3.12).
$(FOCUS_MODEL): | $(STAMP)
	@$(BIN)/python -m pipelines.focus.fetch --out $(@D) \
		|| { echo "could not fetch the FOCUS 1.2 model (focus-validator 2.2.1 from PyPI): make focus-check and tests/test_focus_model.py need it"; exit 1; }

CONFIG ?= conf/pipeline.yml
focus-check: $(STAMP) $(FOCUS_MODEL) ## evaluate the FOCUS 1.2 requirements model on a warehouse's gold.focus_cost and print the summary
	$(BIN)/python -m pipelines.focus.conformance --config $(CONFIG)

# Local Spark sessions load this Hadoop file system (in-process chmod instead of a process per directory).
LOCAL_FS_JAR := pipelines/jars/local-fs.jar
$(LOCAL_FS_JAR): jvm/billinglakehouse/NioLocalFileSystem.java $(STAMP)
	@if command -v javac >/dev/null && command -v jar >/dev/null; then \
		rm -rf build/jvm && mkdir -p build/jvm pipelines/jars && \
		javac --release 17 -nowarn -d build/jvm \
			-cp "$$($(BIN)/python -c 'import pathlib, pyspark; print(pathlib.Path(pyspark.__file__).parent / "jars")')/*" $< && \
		jar cf $@ -C build/jvm . ; \
	else \
		echo "no javac: local Spark uses Hadoop's default local file system (slower, one chmod process per directory)"; \
	fi

local-fs: $(LOCAL_FS_JAR) ## build the Hadoop local file system jar that local Spark sessions use (needs javac)

# The report test renders the page in headless Chromium: Debian's package where we may install it, else Playwright's.
browser: $(STAMP) ## install a headless Chromium for the report's browser test (apt as root, else Playwright's download)
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then \
		echo "chromium is installed"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	else \
		$(BIN)/python -m playwright install chromium; \
	fi

# Legacy CSVs for 2024-01..03 and system-table exports from 2024-03-01 (March is covered by both), list prices
# and the account's own prices (all-purpose SKUs; conf/pipeline.yml's discount rule covers jobs SKUs), and one
# runaway SQL warehouse on 2024-05-22 (the anomaly the demo shows).
data/.generated-v5:
	$(MAKE) --no-print-directory $(STAMP)
	$(BIN)/python benchmarks/generate.py --out data --rows $(DEMO_ROWS) > /dev/null
	$(BIN)/python -m benchmarks.system_usage --out data --rows $(DEMO_SYSTEM_ROWS) --start-day 2024-03-01 --days 84 > /dev/null
	$(BIN)/python -m benchmarks.demo_anomaly --out data --day 2024-05-22 > /dev/null
	touch data/.generated-v5

demo: $(STAMP) $(JARS_STAMP) $(LOCAL_FS_JAR) data/.generated-v5 ## generate sample deliveries, run bronze -> silver -> gold, print a summary, write report.html
	$(BIN)/billing-lakehouse run --config conf/pipeline.yml
	$(BIN)/billing-lakehouse summary --config conf/pipeline.yml
	$(BIN)/billing-lakehouse alerts --config conf/pipeline.yml || [ $$? -eq 5 ]   # 5: new alerts, printed (no webhook)
	$(BIN)/billing-lakehouse report --config conf/pipeline.yml --out report.html
	$(BIN)/billing-lakehouse export focus --config conf/pipeline.yml --month 2024-04 --out exports/focus --format csv
	@echo ""
	@echo "Tables: $(CURDIR)/warehouse/{bronze,silver,gold}/<table> (Delta; DuckDB, Polars and Spark read them)"
	@echo "Report: $(CURDIR)/report.html (open it in a browser)"
	@echo "FOCUS:  $(CURDIR)/exports/focus/billing_period=2024-04/ (FOCUS 1.2 CSV; make focus-check evaluates the model)"
	@echo "Next:   $(BIN)/billing-lakehouse status --config conf/pipeline.yml   (versions, rows, last ingest per source)"
	@echo "        notebooks/ explore gold; conf/pipeline.yml points the pipeline at your own deliveries"

lint: $(STAMP) ## ruff (lint and format check) and mypy
	$(BIN)/ruff check pipelines jobs notebooks tests benchmarks
	$(BIN)/ruff format --check pipelines jobs notebooks tests benchmarks
	$(BIN)/mypy

format: $(STAMP) ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix pipelines jobs notebooks tests benchmarks
	$(BIN)/ruff format pipelines jobs notebooks tests benchmarks

test: lint $(JARS_STAMP) $(LOCAL_FS_JAR) $(FOCUS_MODEL) ## lint, then the test suite
	$(BIN)/python -m pytest

# The edit-test loop: delta-rs only, without the slowest end-to-end modules (make test runs everything).
SLOW_TESTS := tests/test_crash_safety.py tests/test_concurrency.py tests/test_hostile_input.py tests/test_entry_points.py \
	tests/test_backends.py tests/test_catalog_tables.py tests/test_s3.py tests/test_spark_connect.py \
	tests/test_spark_session.py tests/test_notebook_parameters.py tests/test_dashboard.py tests/test_focus_export.py
test-fast: lint $(LOCAL_FS_JAR) $(FOCUS_MODEL) ## lint, then the tests without the slowest modules and the delta-spark runs (minutes)
	$(BIN)/python -m pytest $(addprefix --ignore=,$(SLOW_TESTS)) -k "not delta-spark"

bench: bench-forecast bench-anomalies bench-legacy bench-system ## the benchmarks below (long: about an hour on 2 cores)

bench-legacy: $(STAMP) $(JARS_STAMP) $(LOCAL_FS_JAR) ## legacy CSV benchmark (1M rows by default); prints JSON
	$(BIN)/python -m benchmarks.bench --rows $(BENCH_ROWS)

bench-system: $(STAMP) $(JARS_STAMP) $(LOCAL_FS_JAR) ## system usage benchmark (10M records over 12 months by default); prints JSON
	$(BIN)/python -m benchmarks.bench_system --rows $(BENCH_SYSTEM_ROWS)

bench-forecast: $(STAMP) ## month-end forecast backtest on generated histories: MAPE and 80%-interval coverage; prints JSON (seconds)
	$(BIN)/python -m benchmarks.forecast_backtest

bench-anomalies: $(STAMP) $(JARS_STAMP) $(LOCAL_FS_JAR) ## anomaly detection on generated usage with injected anomalies and corrections: precision, recall, contributors; prints JSON (~5 min)
	$(BIN)/python -m benchmarks.anomaly_detection

clean: ## remove generated data, warehouses and the virtualenv
	rm -rf $(VENV) data warehouse exports report.html bench-data build pipelines/jars $(JARS_DIR) .cache

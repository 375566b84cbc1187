# geo-grid: two commands on a fresh machine — `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DB     ?= data/jiangxi.gpkg
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=

.PHONY: install run init test lint bench bench-http browser postgis wheel-check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	# GDAL's GeoPackage validator for the conformance test (its GDAL-bindings dependency is not needed)
	$(BIN)/pip install -q --no-deps 'gdal-utils>=3.8'
	touch $(STAMP)

install: $(STAMP)

## run: create .venv, install, build the store if missing, serve on http://$(HOST):$(PORT)/
run: install
	$(BIN)/geo-grid serve --db $(DB) --host $(HOST) --port $(PORT)

init: install
	$(BIN)/geo-grid init --db $(DB)

## browser: Debian's Chromium for the map tests (a browser download is not possible here)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi; }

## postgis: Debian's PostgreSQL and PostGIS for the PostGIS backend's tests, the cluster started
postgis:
	@if [ "$$(id -u)" = 0 ]; then bash .ci/postgis; else sudo bash .ci/postgis; fi

## test: create .venv, install, run the whole suite (unit, integration, API over HTTP, browser,
## both store backends)
test: install browser postgis
	$(BIN)/ruff check geo_grid api maps tests benchmarks boundaries
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

## wheel-check: build the wheel, install it in a fresh venv outside the checkout, init + lookup
wheel-check:
	PYTHON=$(PYTHON) bash .ci/wheel-check

lint: install
	$(BIN)/ruff check geo_grid api maps tests benchmarks boundaries

bench: install
	$(BIN)/python benchmarks/locate.py

## bench-http: the HTTP benchmark (needs Debian's wrk, installed here if missing)
bench-http: install
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; fi; }
	$(BIN)/python benchmarks/http.py

clean:
	rm -rf $(VENV) data .pytest_cache

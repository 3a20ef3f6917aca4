# reidbench: `make demo` and `make test` set everything up on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The CPU build of torch lies on local disk; an unpinned torch would pull a multi-GB CUDA build.
TORCH_PIN ?= torch==2.13.0

.PHONY: demo test bench bench-big lint clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH_PIN)
	$(PIP) install -q -e '.[dev]'
	touch $@

$(VENV)/.bench-installed: $(VENV)/.installed benchmarks/setup_peers.sh
	$(PIP) install -q -e '.[dev,bench]'
	bash benchmarks/setup_peers.sh $(PY)
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/reidbench demo

test: $(VENV)/.installed
	$(VENV)/bin/ruff check reidbench reidbench_baselines tests benchmarks
	$(PY) -m pytest -q

bench: $(VENV)/.bench-installed
	$(PY) -m pytest benchmarks -q --benchmark-only --benchmark-columns=min,median,max,rounds

# The 10,000 x 100,000 group with fast-reid and reidbench on the 4 GB matrix (~2.5 min, 12 GB of
# memory); kept apart from `make bench`, in .benchmarks/big.json. Report both runs with
# `python benchmarks/report.py .benchmarks/latest.json .benchmarks/big.json`.
bench-big: $(VENV)/.bench-installed
	mkdir -p .benchmarks
	REIDBENCH_BENCH_BIG=1 $(PY) -m pytest benchmarks/test_bench_metrics.py -q -k test_big \
		--benchmark-only --benchmark-columns=min,median,max,rounds \
		--benchmark-json .benchmarks/big.json

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check reidbench reidbench_baselines tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks build *.egg-info

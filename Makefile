# Two commands do all the set-up on a fresh machine:
#   make run    install everything, build the index on first start, open the web chat on http://127.0.0.1:7860
#   make test   install everything and run the test suite
# The first install compiles llama-cpp-python (about 6 minutes on 2 cores); later installs reuse that wheel
# (kept in ~/.cache/crs-agent/wheels).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch is installed first so nothing pulls a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
# llama-cpp-python compiles llama.cpp for a portable AVX2 CPU, not -march=native: a native build on a CPU with
# AMX / AVX-512 FP16 (seen on this machine kind) segfaults in its first decode.
# pip's own wheel cache ignores CMAKE_ARGS (a wheel built elsewhere with other flags would be reused), so the wheel
# is built without it, into a folder of its own keyed by the version and the flags, and installed from there.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
LLAMA_SPEC ?= llama-cpp-python==0.3.36
LLAMA_WHEELS ?= $(HOME)/.cache/crs-agent/wheels/$(shell echo '$(LLAMA_SPEC) $(LLAMA_CMAKE_ARGS)' | sha1sum | cut -c1-16)
STAMP := $(VENV)/.installed

.PHONY: install run index test lint bench bench-ci clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" \
		$(BIN)/python -m pip wheel --quiet --no-cache-dir --no-deps --wheel-dir $(LLAMA_WHEELS) "$(LLAMA_SPEC)"
	$(BIN)/python -m pip install --quiet $(LLAMA_WHEELS)/llama_cpp_python-*.whl
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/crs-agent ui

index: install
	$(BIN)/crs-agent index

test: install
	$(BIN)/python -m ruff check .
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m crs_agent.evals.bench_knowledge

# Load and scale benchmarks for CI; they print their tables. The load test serves a copy of the index in
# BENCH_DATA (default: the usual data directory), built first if needed; a failure or cross-talk fails the target.
# The scale run measures the real catalog and 100k items (real + synthetic) only, skipping the middle sizes of
# bench_scale's default, to keep the target near 8 minutes on 2 cores.
BENCH_DATA ?=
BENCH_DIR = $(if $(BENCH_DATA),--data-dir $(BENCH_DATA))
bench-ci: install
	$(BIN)/crs-agent index --quiet $(BENCH_DIR)
	$(BIN)/python -m crs_agent.evals.bench_load $(BENCH_DIR) --backend rules --conversations 16 --turns 5
	$(BIN)/python -m crs_agent.evals.bench_load $(BENCH_DIR) --backend llama_cpp --conversations 4 --turns 5
	$(BIN)/python -m crs_agent.evals.bench_scale --sizes real,100000 --embedder hashing

clean:
	rm -rf $(VENV) build *.egg-info

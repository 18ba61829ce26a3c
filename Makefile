# ner-bilstm: every target installs what it needs first, so each works on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO   := runs/demo

.PHONY: install demo test bench lint clean

install: $(STAMP)

# torch is pinned first: any other torch requirement would make pip fetch a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $@

demo: $(STAMP)
	$(BIN)/ner-bilstm train --train data/sample/train.txt --dev data/sample/dev.txt --test data/sample/test.txt \
		--output $(DEMO) --batch-size 16 --epochs 25 --patience 25
	$(BIN)/ner-bilstm evaluate --model $(DEMO) data/sample/test.txt
	$(BIN)/ner-bilstm predict --model $(DEMO) data/sample/text.txt --output-format pretty

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test,bench,glove]"
	$(BIN)/python -m benchmarks.accuracy
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.profile_step

lint: $(STAMP)
	$(BIN)/ruff check ner_bilstm cli tests benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache .hypothesis

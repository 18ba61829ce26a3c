# ner-bilstm: every target installs what it needs first, so each works on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO   := runs/demo

.PHONY: install browser demo test bench screenshots lint clean

install: $(STAMP)

# torch is pinned first: any other torch requirement would make pip fetch a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test,report]"
	rm -f $(VENV)/.installed-*
	touch $@

demo: $(STAMP)
	$(BIN)/ner-bilstm train --train data/sample/train.txt --dev data/sample/dev.txt --test data/sample/test.txt \
		--output $(DEMO) --batch-size 16 --epochs 25 --patience 25
	$(BIN)/ner-bilstm evaluate --model $(DEMO) data/sample/test.txt
	$(BIN)/ner-bilstm predict --model $(DEMO) data/sample/text.txt --output-format pretty
	$(BIN)/ner-bilstm report --model $(DEMO) data/sample/test.txt --output $(DEMO)/report.html

# Headless Chromium for the browser tests, from Debian's packages when missing; without root (or
# sudo) or a reachable package archive the browser tests skip, and the rest of the suite runs.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] && echo "" || echo "sudo -n" ); \
		if command -v apt-get >/dev/null 2>&1 && { [ -z "$$SUDO" ] || sudo -n true 2>/dev/null; }; then \
			echo "installing Chromium for the browser tests (Debian package chromium)"; \
			$$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || \
			{ $$SUDO apt-get update -qq >/dev/null 2>&1 && $$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; } || \
			echo "note: Chromium could not be installed; the browser tests will be skipped"; \
		else echo "note: no Chromium and no way to install it here; the browser tests will be skipped"; fi; }

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test,bench,glove]"
	$(BIN)/python -m benchmarks.accuracy
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.profile_step

# The README's pictures (docs/*.png): the demo model's report and predictions in headless Chromium.
screenshots: demo browser
	$(BIN)/python -m benchmarks.screenshots

lint: $(STAMP)
	$(BIN)/ruff check ner_bilstm cli tests benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache .hypothesis

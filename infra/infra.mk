# Cloud packaging, deployment and offline infra checks. Included by the top-level Makefile
# (`include infra/infra.mk`), which defines PY (the project venv's python) and STAMP (its
# install stamp); both have fallbacks so `make -f infra/infra.mk …` works on its own.

PY ?= .venv/bin/python
CHECKOV_VENV ?= .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
TF_DIR := infra/terraform

.PHONY: build deploy infra-check checkov-venv

build:  ## stage build/<function>/ (main.py + shared/ + infra json + requirements.txt)
	PYTHON=$(PY) infra/build.sh

deploy: build $(STAMP)  ## build, then gcloud-deploy functions, DLQ policy, cleanup job (PCF_PROJECT, PCF_REGION; DRY_RUN=1 prints)
	PYTHON=$(PY) infra/deploy.sh

# checkov lives in its own venv: its hcl2 dependency conflicts with python-hcl2 in .venv.
$(CHECKOV): requirements-checkov.txt
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $(CHECKOV)

checkov-venv: $(CHECKOV)  ## create .venv-checkov (checkov, kept apart from python-hcl2)

infra-check: $(CHECKOV) $(STAMP)  ## parse infra/terraform with python-hcl2, terraform fmt -check (if installed), checkov
	$(PY) -c 'import pathlib, hcl2; files = sorted(pathlib.Path("$(TF_DIR)").glob("*.tf")); [hcl2.load(f.open()) for f in files]; print(f"hcl2: parsed {len(files)} files")'
	@if command -v terraform >/dev/null 2>&1; then TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive $(TF_DIR) && echo "terraform fmt: ok"; else echo "terraform fmt: skipped (no terraform binary)"; fi
	$(CHECKOV) -d $(TF_DIR) --framework terraform --skip-download --compact --quiet

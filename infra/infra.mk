# Cloud packaging, deployment and offline infra checks. Included by the top-level Makefile
# (`include infra/infra.mk`), which defines PY (the project venv's python).

PY ?= .venv/bin/python
CHECKOV_VENV ?= .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
TF_DIR := infra/terraform

.PHONY: build deploy infra-check checkov-venv

## build: stage build/<function>/ (main.py + shared/ + infra json + requirements.txt) for every function
build:
	PYTHON=$(PY) infra/build.sh

## deploy: build, then gcloud-deploy the functions, dead-letter policies and the cleanup job (needs PCF_PROJECT, PCF_REGION)
deploy: build
	PYTHON=$(PY) infra/deploy.sh

# checkov lives in its own venv: its hcl2 dependency conflicts with python-hcl2 in .venv.
$(CHECKOV): requirements-checkov.txt
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $(CHECKOV)

checkov-venv: $(CHECKOV)

## infra-check: parse every .tf with python-hcl2, terraform fmt -check (if terraform exists), checkov scan
infra-check: $(CHECKOV)
	$(PY) -c 'import pathlib, sys, hcl2; files = sorted(pathlib.Path("$(TF_DIR)").glob("*.tf")); [hcl2.load(f.open()) for f in files]; print(f"hcl2: parsed {len(files)} files")'
	@if command -v terraform >/dev/null 2>&1; then TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive $(TF_DIR) && echo "terraform fmt: ok"; else echo "terraform fmt: skipped (no terraform binary)"; fi
	$(CHECKOV) -d $(TF_DIR) --framework terraform --skip-download --compact --quiet

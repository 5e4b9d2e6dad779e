# Cloud packaging, deployment and offline infra checks. Included by the top-level Makefile
# (`include infra/infra.mk`), which defines PY (the project venv's python) and STAMP (its
# install stamp); both have fallbacks so `make -f infra/infra.mk …` works on its own.

PY ?= .venv/bin/python
CHECKOV_VENV ?= .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
TFSCHEMA_VENV ?= .venv-tfschema
TFSCHEMA_STAMP := $(TFSCHEMA_VENV)/.installed
TF_DIR := infra/terraform
ENV ?= dev

.PHONY: build deploy plan infra-check checkov-venv tfschema-venv

build:  ## stage build/<function>/ (main.py + import closure of shared/ + infra json + requirements.txt)
	PYTHON=$(PY) infra/build.sh

plan: $(STAMP)  ## build + terraform init/fmt/validate/plan for ENV (default dev) into infra/terraform/<ENV>.tfplan
	PYTHON=$(PY) infra/deploy.sh $(ENV) plan

deploy: $(STAMP)  ## build + terraform plan, then apply that saved plan, for ENV (default dev); DRY_RUN=1 prints
	PYTHON=$(PY) infra/deploy.sh $(ENV) all

# checkov lives in its own venv: its hcl2 dependency conflicts with python-hcl2 in .venv.
$(CHECKOV): requirements-checkov.txt
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $(CHECKOV)

checkov-venv: $(CHECKOV)  ## create .venv-checkov (checkov, kept apart from python-hcl2)

# The google provider schema (jsii assembly of cdktf-cdktf-provider-google): data only, so no deps.
$(TFSCHEMA_STAMP): requirements-tfschema.txt
	python3 -m venv $(TFSCHEMA_VENV)
	$(TFSCHEMA_VENV)/bin/pip install --quiet --no-deps -r requirements-tfschema.txt
	touch $(TFSCHEMA_STAMP)

tfschema-venv: $(TFSCHEMA_STAMP)  ## create .venv-tfschema (google provider 6.50.0 schema for the offline check)

infra-check: $(CHECKOV) $(TFSCHEMA_STAMP) $(STAMP)  ## python-hcl2 parse, provider schema check, terraform fmt -check (if installed), checkov
	$(PY) -c 'import pathlib, hcl2; files = sorted(pathlib.Path("$(TF_DIR)").glob("*.tf")); [hcl2.load(f.open()) for f in files]; print(f"hcl2: parsed {len(files)} files")'
	$(PY) -m pytest -q -p no:cacheprovider tests/infra/test_infra_provider_schema.py
	@if command -v terraform >/dev/null 2>&1; then TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive $(TF_DIR) && echo "terraform fmt: ok"; else echo "terraform fmt: skipped (no terraform binary)"; fi
	$(CHECKOV) -d $(TF_DIR) --framework terraform --skip-download --compact --quiet

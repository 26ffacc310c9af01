# ecr-promoter: every target bootstraps what it needs (virtualenv, registry, skopeo) first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION ?= 20
export PYTHONDONTWRITEBYTECODE := 1
CDK_OUTDIR ?= cdk.out
AWS_CDK_VERSION := 2.1148.1
PYTEST_ARGS ?=

.PHONY: help bootstrap demo test lint typecheck pytest synth bench deploy destroy clean

help:
	@echo "make demo     run the whole promotion scenario locally (no AWS account needed)"
	@echo "make test     lint + type-check + every test tier (what CI runs)"
	@echo "make lint     ruff lint and format check"
	@echo "make synth    synthesize both CDK stacks offline into $(CDK_OUTDIR)/"
	@echo "make bench    ecr-promoter vs skopeo on local registries -> BENCHMARKS.md"
	@echo "make deploy   cdk deploy --all (needs AWS credentials and bootstrapped accounts)"
	@echo "make destroy  cdk destroy --all"

bootstrap:
	@scripts/bootstrap.sh

demo: bootstrap
	$(PY) -m devtools.demo $(if $(KEEP),--keep,)

lint: bootstrap
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: bootstrap
	$(VENV)/bin/mypy

pytest: bootstrap
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

test: lint typecheck pytest

synth: bootstrap
	CDK_OUTDIR=$(CDK_OUTDIR) $(PY) app.py

bench: 
	@scripts/bootstrap.sh --with-skopeo
	$(PY) -m benchmarks.run

deploy: bootstrap
	npx --yes aws-cdk@$(AWS_CDK_VERSION) deploy --all --require-approval never --app "$(PY) app.py"

destroy: bootstrap
	npx --yes aws-cdk@$(AWS_CDK_VERSION) destroy --all --force --app "$(PY) app.py"

clean:
	rm -rf $(CDK_OUTDIR) .pytest_cache .mypy_cache .ruff_cache .bench

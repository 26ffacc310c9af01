# ecr-promoter: every target bootstraps what it needs first.
#   demo / test / lint / bench: the virtualenv, the CNCF registry (and skopeo for bench) -- scripts/bootstrap.sh
#   synth / diff / deploy / destroy: only Python and Node -- the hash-locked virtualenv and the CDK CLI
#   pinned in package-lock.json (./node_modules/.bin/cdk) -- scripts/bootstrap.sh --deploy; never apt.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION ?= 20
export PYTHONDONTWRITEBYTECODE := 1
CDK_OUTDIR ?= cdk.out
CDK := node_modules/.bin/cdk
CDK_APP := --app "$(PY) app.py" --output $(CDK_OUTDIR)
# Locally, cdk asks before widening IAM or security groups; CI sets never (its environment has reviewers).
REQUIRE_APPROVAL ?= broadening
# `make diff` output is also written here (CI copies it into the job summary).
DIFF_FILE ?= $(CDK_OUTDIR)/diff.txt
# Which stacks diff/deploy/destroy act on, e.g. STACKS=EcrPromoterDestination (one account's credentials at a time).
STACKS ?= --all
# One named stack means only that stack: Source depends on Destination, and without --exclusively cdk would
# also deploy the dependency (or destroy the dependant) with the wrong account's credentials.
STACK_SELECTION = $(if $(filter --all,$(STACKS)),--all,$(STACKS) --exclusively)
PYTEST_ARGS ?=

.PHONY: help bootstrap deploy-tools demo test lint typecheck pytest synth diff bench bench-publish bench-burst deploy destroy lock clean

help:
	@echo "make demo     run the whole promotion scenario locally (no AWS account needed)"
	@echo "make test     lint + type-check + every test tier (what CI runs)"
	@echo "make lint     ruff lint and format check"
	@echo "make synth    synthesize both CDK stacks offline into $(CDK_OUTDIR)/ (needs Python and Node only)"
	@echo "make bench    ecr-promoter vs skopeo on local registries -> .bench/report.md (untracked)"
	@echo "make bench-publish  the same, rewriting BENCHMARKS.md on purpose"
	@echo "make bench-burst    200 promotions by concurrent handlers at a PutImage-like rate -> .bench/release_burst.json + a table"
	@echo "make diff     cdk diff of both stacks against the deployed ones (AWS credentials)"
	@echo "make deploy   cdk diff, then cdk deploy --all (AWS credentials, bootstrapped accounts)"
	@echo "make destroy  cdk destroy --all, then lists what is kept (ledger, prod repositories) and how to remove it"

bootstrap:
	@scripts/bootstrap.sh

deploy-tools:
	@scripts/bootstrap.sh --deploy

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

synth: deploy-tools
	CDK_OUTDIR=$(CDK_OUTDIR) $(PY) app.py

diff: deploy-tools
	mkdir -p $(CDK_OUTDIR)
	set -o pipefail; $(CDK) diff $(STACK_SELECTION) --no-change-set $(CDK_APP) 2>&1 | tee $(DIFF_FILE)

bench:
	@scripts/bootstrap.sh --with-skopeo
	$(PY) -m benchmarks.run

bench-publish:
	@scripts/bootstrap.sh --with-skopeo
	$(PY) -m benchmarks.run --publish

bench-burst: bootstrap
	$(PY) -m benchmarks.release_burst

deploy: diff
	$(CDK) deploy $(STACK_SELECTION) --require-approval $(REQUIRE_APPROVAL) $(CDK_APP)

destroy: synth
	$(PY) -m infra.retained $(CDK_OUTDIR) > $(CDK_OUTDIR)/kept.txt
	@cat $(CDK_OUTDIR)/kept.txt
	$(CDK) destroy $(STACK_SELECTION) --force $(CDK_APP)
	@echo; cat $(CDK_OUTDIR)/kept.txt

# Regenerate requirements-deploy.lock after changing requirements.txt (reads the package index).
lock: bootstrap
	$(PY) scripts/lock_deploy_requirements.py

clean:
	rm -rf $(CDK_OUTDIR) .pytest_cache .mypy_cache .ruff_cache .bench

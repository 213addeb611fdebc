# The two commands a newcomer needs: `make preview` and `make test`.
# Both set up .venv on first use; Checkov gets its own venv (its pins clash with pulumi's).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
PIP_FLAGS := --quiet --disable-pip-version-check
K8S_VERSION := 1.33.0
CI_OUT := build/ci
STACKS := dev staging-platform staging prod-platform prod

.PHONY: preview test lint unit render validate judges checkov consumer setup policy-venv bench clean mutation

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml components/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) -r requirements.txt -r requirements-dev.txt
	$(BIN)/pip install $(PIP_FLAGS) --no-deps -e . --config-settings editable_mode=compat
	@touch $@

$(CHECKOV_STAMP): requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install $(PIP_FLAGS) -r requirements-checkov.txt
	@touch $@

## Offline preview of the dev stack: build/dev/{resources.json,policy.json,manifests/}
preview: $(STAMP)
	$(BIN)/slipway preview dev

## Lint, the whole test suite, then the third-party checks on rendered manifests.
test: lint unit render validate judges checkov consumer

## ruff; actionlint and zizmor (offline: no token, no network) on the workflows.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/actionlint .github/workflows/*.yml
	$(BIN)/zizmor --offline --no-progress .github/workflows

unit: $(STAMP)
	$(BIN)/pytest

render: $(STAMP)
	@for s in $(STACKS); do \
	  if [ -f Pulumi.$$s.yaml ]; then \
	    echo "slipway preview $$s (and --first-run)"; \
	    $(BIN)/slipway preview $$s --out $(CI_OUT)/$$s > /dev/null || exit $$?; \
	    $(BIN)/slipway preview $$s --first-run --out $(CI_OUT)-first-run/$$s > /dev/null || exit $$?; \
	  fi; \
	done

## kubernetes-validate --strict on every rendered core manifest (CRDs have no schema there).
validate: render
	$(BIN)/python scripts/core_manifests.py $(CI_OUT) | xargs -r $(BIN)/kubernetes-validate --strict --quiet -k $(K8S_VERSION)

## The offline judges on every stack (first run, typed inputs, CRD schemas, CRDs installed,
## name rules, required config), held to tests/data/known-findings.yaml.
judges: $(STAMP)
	$(BIN)/python scripts/judges.py $(STACKS)

## Checkov's Kubernetes checks; skips, each with its reason, live in .checkov.yaml.
checkov: render $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml -d $(CI_OUT)

## The wheels as users get them: slipway-components in fresh venvs (lowest bounds, then our
## pins) running examples/consumer's tests outside the checkout; the CLI wheel's contents.
consumer: $(STAMP)
	$(BIN)/python scripts/consumer_check.py

## The policy pack's own venv, as `pulumi ... --policy-pack policies` expects it.
policy-venv: policies/venv/.installed

policies/venv/.installed: policies/requirements.txt
	@test -x policies/venv/bin/python || $(PYTHON) -m venv policies/venv
	policies/venv/bin/pip install $(PIP_FLAGS) -r policies/requirements.txt
	@touch $@

## Speed figures (not part of `make test`: timings belong in benchmarks, not in tests).
bench: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/python benchmarks/check_vs_checkov.py
	$(BIN)/python benchmarks/fleet.py

clean:
	rm -rf build

## Mutation testing of the modules that decide what gets deployed (not in `make test`: it
## takes long). One line per module; MUTATION_SAMPLE=N for a quick look. See scripts/mutation.py.
mutation: $(STAMP)
	$(BIN)/python scripts/mutation.py $(MODULES)

# Outpost: `make run` to start, `make test` to test. Needs Python 3.11 and make; nothing else.
PYTHON ?= python3.11
UV_VERSION ?= 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint format bench venv clean wheelhouse image audit sbom

$(UV):
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found; set PYTHON=...)"; exit 2; }
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The locked environment; re-synced whenever uv.lock changes.
$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	UV_PYTHON=$(PYTHON) $(UV) sync --locked --python $(PYTHON)
	@touch $@

venv: $(VENV)/.synced

run: venv
	$(PY) scripts/run.py

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Benchmarks print their figures (-s). The engine benchmark runs again on Redis when it answers.
bench: venv
	$(PY) -m pytest tests/bench -p no:cacheprovider -s -o addopts="" $(PYTEST_ARGS)
	@if $(PY) -c "import redis; redis.Redis.from_url('redis://127.0.0.1:6379/0').ping()" 2>/dev/null; then \
	  REDIS_URL=redis://127.0.0.1:6379/0 Q_CLUSTER_NAME=outpost-bench-$$$$ \
	  $(PY) -m pytest tests/bench/test_engine_bench.py -p no:cacheprovider -s -o addopts="" $(PYTEST_ARGS); fi

# --- deployment and supply chain ---------------------------------------------------------
IMAGE ?= outpost:latest

# Locked runtime wheels for `docker build` (installed there with --no-index, hashes checked).
wheelhouse: venv
	$(PY) scripts/build-wheelhouse --pip $(TOOLS)/bin/pip

# Default base: the pinned python slim image (needs its registry). Air-gapped or in CI:
#   make image BASE_IMAGE=$$(scripts/build-base-image) INSTALL_SYSTEM_PACKAGES=false
image: wheelhouse
	docker build --network $(if $(BASE_IMAGE),none,default) -t $(IMAGE) \
	  $(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)) \
	  $(if $(INSTALL_SYSTEM_PACKAGES),--build-arg INSTALL_SYSTEM_PACKAGES=$(INSTALL_SYSTEM_PACKAGES)) .

# bandit (code), pip-audit (the locked runtime pins), detect-secrets (the repository), SBOM.
audit: venv sbom
	$(PY) scripts/bandit-gate
	UV=$(UV) $(PY) scripts/dependency-audit
	$(PY) scripts/secret-scan

# CycloneDX SBOM of the locked runtime environment (a CI build artifact).
sbom: venv
	mkdir -p var && $(UV) export --frozen --no-dev --no-emit-project --format requirements-txt -o var/requirements.lock.txt >/dev/null
	$(VENV)/bin/cyclonedx-py requirements --pyproject pyproject.toml --output-reproducible --output-format JSON -o var/sbom.cdx.json var/requirements.lock.txt
	@echo "SBOM: var/sbom.cdx.json"

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache

# pulumi-copyai: `make up` deploys the example stack against the local emulator, `make test` runs every test.
SHELL := /bin/bash
ENV := source scripts/env.sh &&

.PHONY: bootstrap bootstrap-test up preview refresh destroy emulator emulator-stop test lint bench clean

# `make bootstrap`: what `make up` needs (.venv with the runtime pins and the package, the Pulumi CLI);
# `make bootstrap-test`: also the test tools, PostgreSQL server binaries and npm packages (scripts/bootstrap.sh).
bootstrap:
	@scripts/bootstrap.sh

bootstrap-test:
	@scripts/bootstrap.sh --test

# up/refresh/destroy preview and ask first (YES=1 answers yes), except on the demo stack `dev` against the
# local emulator; see scripts/stack.py.

up: bootstrap
	@$(ENV) python scripts/stack.py up

preview refresh destroy: bootstrap
	@$(ENV) python scripts/stack.py $@

emulator: bootstrap
	@$(ENV) python scripts/stack.py emulator

emulator-stop:
	@$(ENV) python scripts/stack.py emulator-stop

# Test files run side by side on TEST_WORKERS pytest-xdist workers (a file stays on one worker): an engine test
# spends most of its time waiting, so 3 workers on 2 cores take well under half the time of one. TEST_WORKERS=0
# runs them one after the other in this process.
# Tests marked `serial` hold a measured time to a bound: they run after the others, alone, so that other tests
# do not share their cores.
TEST_WORKERS ?= 3
PYTEST_PARALLEL = $(if $(filter 0,$(TEST_WORKERS)),-p no:xdist,-n $(TEST_WORKERS) --dist loadfile)
NOT_OPT_IN = not live and not release

test: bootstrap-test
	@$(ENV) ruff check . && mypy && pytest $(PYTEST_PARALLEL) -m "not serial and $(NOT_OPT_IN)" \
		&& pytest -p no:xdist -m "serial and $(NOT_OPT_IN)"

# The fast lane: lint, types and every test that does not run the pulumi CLI (the `engine` marker).
.PHONY: test-fast
test-fast: bootstrap-test
	@$(ENV) ruff check . && mypy && pytest $(PYTEST_PARALLEL) -m "not engine and $(NOT_OPT_IN)"

lint: bootstrap-test
	@$(ENV) ruff check . && mypy

# `make bench` writes bench/out/ (ignored); `make bench-publish` refreshes the committed bench/results/.
.PHONY: bench-publish
bench: bootstrap-test
	@$(ENV) python bench/bench.py

bench-publish: bootstrap-test
	@$(ENV) python bench/bench.py --publish

clean:
	rm -rf .venv .venv.tmp .pulumi-bin .pulumi-state .state provider/build provider/dist dist

# The copyai package (docs/package.md): `make sdk` regenerates sdk/ from the plugin's schema; `make plugin`
# builds dist/: the plugin tarball (`pulumi plugin install resource copyai <version> --file ...`) and the
# TypeScript SDK's npm package (`npm install dist/pulumi-copyai-copyai-<version>.tgz`).
.PHONY: sdk plugin
sdk:
	@scripts/gen-sdk.sh

plugin: bootstrap
	@tools/plugin/build.sh dist && tools/npm-pack.sh dist

# A release (docs/installation-configuration.md): `make release VERSION=x.y.z` writes dist/: the plugin
# archives for linux/darwin amd64/arm64 and windows-amd64, the npm package, the Python wheels and sdists,
# the Go module (dist/goproxy/), checksums (tools/release/release.py). Settings, all optional:
#   REPOSITORY=github.com/ORG/REPO   the repository; the download URL and the Go module path follow it
#   PLUGIN_DOWNLOAD_URL=URL          where the engine downloads the archives (${VERSION} is substituted)
#   GO_MODULE=PATH NPM_PACKAGE=@SCOPE/NAME PLATFORMS=linux-amd64,...
# `make release-lock` re-pins the archives' wheels (tools/release/plugin-constraints.txt).
# `make test-release` builds a release and consumes it as a registry user would (tests/test_release.py).
.PHONY: release dist release-lock test-release
release dist: bootstrap
	@$(ENV) python tools/release/release.py build $(if $(VERSION),--version '$(VERSION)') \
	  $(if $(REPOSITORY),--repository '$(REPOSITORY)') $(if $(PLUGIN_DOWNLOAD_URL),--plugin-download-url '$(value PLUGIN_DOWNLOAD_URL)') \
	  $(if $(GO_MODULE),--go-module '$(GO_MODULE)') $(if $(NPM_PACKAGE),--npm-package '$(NPM_PACKAGE)') \
	  $(if $(PLATFORMS),--platforms '$(PLATFORMS)')

release-lock: bootstrap
	@$(ENV) python tools/release/release.py lock

test-release: bootstrap-test
	@$(ENV) pytest -m release tests/test_release.py

# Every supported Python version (3.10 to 3.13), each in a cached venv: scripts/test-matrix.sh.
# MATRIX=ci runs only tests/test_python_versions_engine.py per version; PYTHONS="3.12 3.13" picks versions.
.PHONY: test-matrix
test-matrix: bootstrap-test
	@MATRIX='$(MATRIX)' PYTHONS='$(PYTHONS)' scripts/test-matrix.sh

# Opt-in tests against the real Copy.ai API (tests/test_live.py says what to set).
.PHONY: test-live test-live-cleanup
test-live: bootstrap-test
	@$(ENV) pytest -m live tests/test_live.py -rs

test-live-cleanup: bootstrap-test
	@$(ENV) python tests/test_live.py --cleanup

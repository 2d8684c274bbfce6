# pulumi-copyai: `make up` deploys the example stack against the local emulator, `make test` runs every test.
SHELL := /bin/bash
ENV := source scripts/env.sh &&

.PHONY: bootstrap up preview refresh destroy emulator emulator-stop test lint bench clean

bootstrap:
	@scripts/bootstrap.sh

up: bootstrap
	@$(ENV) python scripts/stack.py up

preview refresh destroy: bootstrap
	@$(ENV) python scripts/stack.py $@

emulator: bootstrap
	@$(ENV) python scripts/stack.py emulator

emulator-stop:
	@$(ENV) python scripts/stack.py emulator-stop

test: bootstrap
	@$(ENV) ruff check . && mypy && pytest

lint: bootstrap
	@$(ENV) ruff check . && mypy

bench: bootstrap
	@$(ENV) python bench/bench.py

clean:
	rm -rf .venv .pulumi-bin .pulumi-state .state provider/build provider/dist

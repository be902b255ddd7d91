# SPDX-License-Identifier: MIT
# The README's commands. Each installs what it needs on a fresh Debian 12
# machine (as root) and is quick when that is already done.
#
#   make demo              the engine against local simulators, with a summary and a PNG
#   make test              pytest (with the native C tests), ruff, mypy
#   make test SANITIZE=1   the same with the native code under ASan + UBSan
#   make bench             every benchmark suite, one JSON object per suite
#   make lab               the latency lab: `stratum bench wire --json` and its CDF PNG (root)
#   make fuzz              every libFuzzer target, FUZZ_SECONDS each (default 60)
#   make wheelhouse        the engine's wheel and every dependency, for `make deploy`
#   make deploy INVENTORY=FILE [VAULT_PASSWORD_FILE=FILE]   ansible/site.yml on those hosts
SHELL := /bin/bash
SANITIZE ?= 0
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STRATUM := $(VENV)/bin/stratum
FLAVOR := $(if $(filter 1,$(SANITIZE)),sanitize,release)
OTHER_FLAVOR := $(if $(filter 1,$(SANITIZE)),release,sanitize)

APT_PACKAGES := build-essential pkg-config liburing-dev libbearssl-dev libnuma-dev \
	clang libclang-rt-14-dev openssl git openssh-client debootstrap systemd-container \
	etcd-server etcd-client
NATIVE_INPUTS := $(wildcard native/src/*.c native/src/*.h native/include/*.h) \
	orchestrator/_build_native.py orchestrator/_version.py setup.py
NATIVE_STAMP := build/native-$(FLAVOR).stamp

# Under SANITIZE=1 the Python process must load the sanitizer runtimes first.
ifeq ($(SANITIZE),1)
SAN_ENV := LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
endif

FUZZ_SECONDS ?= 60

WHEELHOUSE := build/wheelhouse
INVENTORY ?= ansible/inventory.yml
VAULT_PASSWORD_FILE ?=

.PHONY: setup apt native test lint demo bench lab fuzz wheelhouse deploy clean
setup: apt $(VENV)/.installed native

# Checked every time (fast): a package removed since is noticed.
apt:
	@missing=$$(for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "make: installing Debian packages:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml setup.py | apt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip 'setuptools>=77' wheel 'cffi>=1.16'
	$(PY) -m pip install -q -e '.[dev]'
	@rm -f build/native-*.stamp
	touch $@

# Rebuilds the cffi module when a native input or the flavour changes.
$(NATIVE_STAMP): $(NATIVE_INPUTS) $(VENV)/.installed
	@mkdir -p build
	STRATUM_SANITIZE=$(SANITIZE) $(PY) setup.py -q build_ext --inplace --force >/dev/null
	@rm -f build/native-$(OTHER_FLAVOR).stamp
	touch $@

native: apt $(VENV)/.installed $(NATIVE_STAMP)
	@$(MAKE) -s --no-print-directory -C native tools SANITIZE=0

test: setup
	$(SAN_ENV) STRATUM_SANITIZE=$(SANITIZE) $(PY) -m pytest $(PYTEST_ARGS)
	$(MAKE) --no-print-directory lint

lint: setup
	$(PY) -m ruff check orchestrator tests tools
	$(PY) -m mypy
	$(VENV)/bin/yamllint -c ansible/.yamllint --strict ansible
	cd ansible && PATH=$(abspath $(VENV))/bin:$$PATH ansible-lint --offline --profile production -q

# Built from the tracked files, so the wheel holds what a clone has and nothing else.
wheelhouse: setup
	rm -rf $(WHEELHOUSE) build/wheel-src && mkdir -p $(WHEELHOUSE) build/wheel-src
	git ls-files -z | xargs -0 cp --parents -t build/wheel-src
	$(PY) -m pip wheel -q --no-build-isolation -w $(WHEELHOUSE) build/wheel-src
	rm -rf build/wheel-src

deploy: setup
	@test -e $(INVENTORY) || { echo "make deploy: no inventory $(INVENTORY): copy ansible/inventory.example.yml"; exit 1; }
	@test -d $(WHEELHOUSE) || { echo "make deploy: no $(WHEELHOUSE): run make wheelhouse first"; exit 1; }
	cd ansible && ANSIBLE_CONFIG=ansible.cfg ../$(VENV)/bin/ansible-playbook -i $(abspath $(INVENTORY)) \
		$(if $(VAULT_PASSWORD_FILE),--vault-password-file $(abspath $(VAULT_PASSWORD_FILE)),--ask-vault-pass) \
		-e stratum_wheelhouse=$(abspath $(WHEELHOUSE)) $(ANSIBLE_ARGS) site.yml

demo: setup
	$(SAN_ENV) $(STRATUM) demo

bench: setup
	@$(SAN_ENV) $(STRATUM) bench all --json

# The JSON is printed and kept in build/lab/, with the PNG next to it.
lab: setup
	@mkdir -p build/lab
	@set -o pipefail; $(STRATUM) bench wire --json | tee build/lab/wire.json
	@$(PY) -m orchestrator.lab.plot build/lab/wire.json build/lab/wire.png
	@echo "make lab: wrote build/lab/wire.json and build/lab/wire.png"

# The answer fuzzer reads answers through each venue profile's schema.
FUZZ_SCHEMAS := native/build/fuzz/schemas
fuzz: apt setup
	$(PY) tools/fuzz_schemas.py $(FUZZ_SCHEMAS)
	$(MAKE) -C native fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)

# CI: every libFuzzer target for 20 s from the kept corpus; fails on a crash.
.PHONY: fuzz-ci
fuzz-ci: apt setup
	$(PY) tools/fuzz_schemas.py $(FUZZ_SCHEMAS)
	$(MAKE) -C native fuzz-ci

clean:
	rm -rf build native/build orchestrator/_native*.so $(VENV)

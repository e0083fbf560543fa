# ember — the two commands of the README are `make run` and `make test`.
# Both install their own Debian packages and build the guest images (cached by recipe hash
# under $(EMBER_CACHE), so a second run is fast).
SHELL := /bin/bash
BUILD ?= build
ASAN ?= build-asan
IMAGES ?= $(BUILD)/images
export EMBER_CACHE ?= $(HOME)/.cache/ember

.PHONY: all asan deps deps-test images test run unit integration e2e bench clean

all: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)
	@for b in src/daemon/emberd src/compat/ember-vmm guest/init/emberd-init; do \
		ln -sf $$b $(BUILD)/$$(basename $$b); done

$(BUILD)/build.ninja:
	meson setup $(BUILD)

$(ASAN)/build.ninja:
	meson setup $(ASAN) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

asan: deps $(ASAN)/build.ninja
	ninja -C $(ASAN)

deps:
	@scripts/deps.sh

deps-test:
	@scripts/deps.sh --test

images: all
	images/build.sh --out $(IMAGES) --init $(BUILD)/guest/init/emberd-init all

# The README's test command: unit tests (normal and ASan/UBSan builds), integration tests
# (real emberd + ember-vmm process engine, ASan/UBSan build), e2e (qemu engine, real kernel).
test: deps-test all asan images
	scripts/test.sh

unit: all asan
	scripts/test.sh unit

integration: all asan images
	scripts/test.sh integration

e2e: all images
	scripts/test.sh e2e

# The README's run command: emberd with a sandbox demo, then the daemon in the foreground.
run: all images
	scripts/run.sh

bench: all images
	bench/run.sh

# fuzzing (libFuzzer, clang): make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS=...]
include tests/fuzz/fuzz.mk

clean:
	rm -rf $(BUILD) $(ASAN) build-fuzz-clang

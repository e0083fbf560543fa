# fuzz.mk — `make fuzz`: builds the libFuzzer targets of tests/fuzz with clang in their own
# build dir and runs each for FUZZ_SECONDS (tests/fuzz/run.sh prints executions, exec/s,
# coverage and findings per target). Included by the top Makefile.
#   make fuzz FUZZ_SECONDS=300 FUZZ_TARGETS=fuzz-vhost
FUZZ_BUILD ?= build-fuzz-clang
FUZZ_WORK ?= $(FUZZ_BUILD)/fuzz-work
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= fuzz-api fuzz-http fuzz-agent-frames fuzz-exec-decode fuzz-fc-api fuzz-vhost
# Coverage for the code under test, not only the harness: every library of the build dir is
# compiled with -fsanitize=fuzzer-no-link. UBSan findings abort like ASan ones. Clang warns
# about a few idioms gcc accepts (vsnprintf through a helper, split string literals): those
# two warnings are off here only.
FUZZ_CFLAGS = -fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined \
	-Wno-format-nonliteral -Wno-string-concatenation

.PHONY: fuzz fuzz-build fuzz-seed

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dc_args='$(FUZZ_CFLAGS)' -Dc_link_args='-fno-sanitize-recover=undefined'

fuzz-build: $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD) $(addprefix tests/fuzz/,$(FUZZ_TARGETS))

fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_WORK) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Rewrites the committed seeds from the unit tests' cases (review the diff, then commit).
fuzz-seed:
	tests/fuzz/seed.sh

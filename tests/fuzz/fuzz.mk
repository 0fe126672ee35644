# tests/fuzz/fuzz.mk — libFuzzer targets (included by the Makefile).
#
#   make fuzz                  build every target (clang, build-fuzz/) and
#                              run each for FUZZ_SECONDS (default 60) on a
#                              copy of its corpus
#   make fuzz FUZZ_SECONDS=N   the same, N seconds each
#
# tests/fuzz/<target>.c is one target; tests/fuzz/corpus/<target>/ its seeds
# (checked in, with every regression input a fuzzer found). The whole tree
# is compiled into build-fuzz/ by clang with -fsanitize=fuzzer-no-link plus
# ASan and UBSan (FUZZ=1 in the Makefile), the targets linked with
# -fsanitize=fuzzer. scripts/fuzz.sh runs them.
FUZZ_TARGETS := $(sort $(basename $(notdir $(wildcard tests/fuzz/*.c))))
FUZZ_SECONDS ?= 60

ifeq ($(FUZZ),1)
FUZZ_BINS := $(FUZZ_TARGETS:%=$(BIN)/fuzz/%)
$(BIN)/fuzz/%: $(B)/tests/fuzz/%.o $(LIBBOTC) $(LIBBOTRT)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -fsanitize=fuzzer -o $@ $^ $(LDLIBS_ALL)

# the spec targets include codegen headers
$(B)/tests/fuzz/%.o: tests/fuzz/%.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Iruntime -Icodegen -c -o $@ $<

fuzz-build: $(FUZZ_BINS)
endif

.PHONY: fuzz fuzz-build
fuzz:
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh build-fuzz/bin/fuzz $(FUZZ_TARGETS)

# tests/tests.mk — included by the Makefile.
#
#   tests/unit/test_<name>.c   one CUnit program each, linked with
#                              tests/unit/support/, the generator (minus its
#                              main), the fakes and the runtime
#   tests/fake_tg/             the fake Telegram Bot API (library + main)
#   tests/fake_llm/            the fake OpenAI-compatible server (library)
#   tests/e2e/                 the end-to-end driver, its transcripts and
#                              their fixture bots (tests/e2e/specs/)
#   spec/<bot>/tests/          conversation tests, run in bin/<bot>-test

# The generator as a library, for unit tests.
LIBBOTC := $(B)/libbotc.a
$(LIBBOTC): $(filter-out $(B)/codegen/main.o,$(CODEGEN_OBJ))
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# slurp() reads a whole file (tests/unit/support/slurp.c) for the unit tests,
# the e2e driver and the fake Bot API (its schema). The fake's archive
# carries it, so a program that links the fake (bin/fake_tg, the benchmark)
# need not know; a program that calls it itself links it by name.
SLURP_OBJ := $(B)/tests/unit/support/slurp.o
FAKE_SRC := $(filter-out tests/fake_tg/main.c,$(wildcard tests/fake_tg/*.c))
FAKE_OBJ := $(FAKE_SRC:%.c=$(B)/%.o) $(SLURP_OBJ)
LIBFAKE := $(B)/libfaketg.a
$(LIBFAKE): $(FAKE_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# The fake OpenAI-compatible LLM server (library only: tests and the e2e
# driver start it in-process).
FAKELLM_OBJ := $(patsubst %.c,$(B)/%.o,$(wildcard tests/fake_llm/*.c))
LIBFAKELLM := $(B)/libfakellm.a
$(LIBFAKELLM): $(FAKELLM_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# The fake of the services desk's example tools call (tests/fake_tool/,
# started in-process by the e2e driver).
FAKETOOL_OBJ := $(patsubst %.c,$(B)/%.o,$(wildcard tests/fake_tool/*.c))
LIBFAKETOOL := $(B)/libfaketool.a
$(LIBFAKETOOL): $(FAKETOOL_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BIN)/fake_tg: $(B)/tests/fake_tg/main.o $(LIBFAKE) $(LIBBOTRT)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(BIN)/tests/%)
UNIT_SUPPORT_OBJ := $(patsubst %.c,$(B)/%.o,$(wildcard tests/unit/support/*.c))

# (convtest.o is test_convtest's, but every test links it: it is an object,
# not in a library, and one pattern rule links them all)
$(BIN)/tests/test_%: $(B)/tests/unit/test_%.o $(UNIT_SUPPORT_OBJ) $(CONVTEST_OBJ) $(LIBBOTC) $(LIBFAKE) $(LIBFAKELLM) $(LIBFAKETOOL) $(LIBBOTRT)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

# test_import runs bin/botc import (order-only: botc is not linked in).
$(BIN)/tests/test_import: | $(BOTC)

# Test fixture bots: tests/e2e/specs/<bot>/bot.yaml -> $(BIN)/<bot>, generated
# under the build dir (fixtures, not product bots: nothing in generated/).
E2E_SPECS := $(wildcard tests/e2e/specs/*/bot.yaml)
E2E_BOTS := $(E2E_SPECS:tests/e2e/specs/%/bot.yaml=%)
$(foreach b,$(E2E_BOTS),$(eval $(call BOT_BUILD,$(b),tests/e2e/specs/$(b)/bot.yaml,$(B)/e2ebots/$(b),$(B)/e2ebots/$(b),$(BIN)/$(b))))

E2E_SRC := $(wildcard tests/e2e/*.c)
E2E_OBJ := $(E2E_SRC:%.c=$(B)/%.o)
$(BIN)/e2e: $(E2E_OBJ) $(LIBFAKETOOL) $(SLURP_OBJ) $(LIBFAKE) $(LIBFAKELLM) $(LIBBOTRT)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

.PHONY: unit e2e e2e-webhook check-layers
# (test_emit links a generated bot with libbotrt.a and ct_main's stand-in)
unit: $(UNIT_BINS) $(CONVTEST_ABSENT_OBJ)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

check-generated: $(BOTC)
	@bash scripts/check-generated.sh $(BOTC)

# The runtime's includes go down its floors only (ARCHITECTURE.md).
check-layers:
	@bash scripts/check-layers.sh

# Under the sanitizers a bot runs two to three times slower and starts
# slower still, on CI's two shared cores: an expect waits 15 s, not 5 (a
# passing step takes no longer; `expect USER nothing` keeps its 0.5 s).
E2E_ENV = BIN=$(BIN)$(if $(filter 1,$(SANITIZE)), E2E_TIMEOUT=15)

e2e: all $(BIN)/e2e $(BIN)/fake_tg $(E2E_BOTS:%=$(BIN)/%)
	@$(E2E_ENV) $(BIN)/e2e tests/e2e/*.e2e
	@BIN=$(BIN) SANITIZE=$(SANITIZE) bash tests/e2e/reload_test.sh

# The same transcripts with updates delivered by webhook (the fake POSTs
# them to the bot's libmicrohttpd server) instead of long polling; those
# that name getUpdates test polling itself (faults on it) and are left out.
E2E_POLLING_ONLY = $(shell grep -l getUpdates tests/e2e/*.e2e 2>/dev/null)
e2e-webhook: all $(BIN)/e2e $(E2E_BOTS:%=$(BIN)/%)
	@$(E2E_ENV) E2E_MODE=webhook $(BIN)/e2e $(filter-out $(E2E_POLLING_ONLY),$(wildcard tests/e2e/*.e2e))

# Conversation tests: every spec/<bot>/ with a tests/ folder runs its
# transcripts in-process (botc test, in bin/<bot>-test); the examples
# (COVERAGE_FLOOR_BOTS) must also cover every state and 90% of the
# transitions, a bot of your own only what you ask of it (README, "Tests").
# Then a transcript broken on purpose must
# fail with exactly the report in tests/codegen/convtest/rental_broken.expected.
# Last, the production bots carry no test runner: no ct_ symbol but
# ct_main's stand-in (and its .cold part, which the compiler may split off),
# no libyaml, and `--test` names the test build.
CONVTEST_BOTS := $(sort $(patsubst spec/%/tests/,%,$(dir $(wildcard spec/*/tests/*.yaml))))
COVERAGE_FLOOR_BOTS := desk rental
COVERAGE_FLOOR := --min-states 100 --min-transitions 90
.PHONY: convtest
convtest: all
	@set -e; for b in $(CONVTEST_BOTS); do echo "== botc test spec/$$b"; \
	  $(BOTC) test spec/$$b --bin $(BIN)/$$b-test \
	    $$(case " $(COVERAGE_FLOOR_BOTS) " in *" $$b "*) echo "$(COVERAGE_FLOOR)";; esac); done
	@echo "== a broken transcript fails with a precise report"; \
	  out=$$($(BIN)/rental-test --test tests/codegen/convtest/rental_broken.yaml | sed -n '1,/^FAIL /p'); \
	  if ! diff -u tests/codegen/convtest/rental_broken.expected - <<<"$$out"; then \
	    echo "convtest: the broken transcript's report changed (see the diff above)"; exit 1; fi; \
	  echo "ok"
	@echo "== production bots have no conversation-test runner"; \
	  for b in $(BOT_BINS); do \
	    if nm $$b | grep -E ' [Tt] ct_' | grep -Evq ' ct_main($$|\.)'; then \
	      echo "convtest: $$b contains the conversation-test runner"; exit 1; fi; \
	    if readelf -d $$b | grep -q 'NEEDED.*libyaml'; then \
	      echo "convtest: $$b links libyaml"; exit 1; fi; \
	    if $$b --test x.yaml 2>&1 >/dev/null | grep -qF "$$b-test --test"; then :; else \
	      echo "convtest: $$b --test does not name $$b-test"; exit 1; fi; \
	  done; echo "ok"

# Run the stages one after another even under -j: the end-to-end timings
# should not compete with the unit tests for the two cores.
test: all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory check-generated
	@$(MAKE) --no-print-directory check-layers
	@$(MAKE) --no-print-directory convtest
	@$(MAKE) --no-print-directory e2e
	@$(MAKE) --no-print-directory e2e-webhook
	@echo "make test: all passed"

# Keep test objects between runs (they are intermediates of pattern rules).
# Named, not a bare .SECONDARY:, which would also stop make from deciding
# normally whether every other target is out of date.
.SECONDARY: $(UNIT_SRC:%.c=$(B)/%.o) $(UNIT_SUPPORT_OBJ)

# test_asr recognises the example bots' phrases with the grammars botc
# wrote for them: it links their generated tables.
$(BIN)/tests/test_asr: $(B)/gen/rental/rental.o $(B)/gen/rental/rental_match.o \
  $(B)/gen/desk/desk.o $(B)/gen/desk/desk_match.o

# tests/tests.mk — included by the Makefile.
#
#   tests/unit/test_<name>.c   one CUnit program each, linked with the
#                              generator (minus its main) and the runtime
#   tests/fake_tg/             the fake Telegram Bot API (library + main)
#   tests/e2e/                 the end-to-end driver and its transcripts

# The generator as a library, for unit tests.
LIBBOTC := $(B)/libbotc.a
$(LIBBOTC): $(filter-out $(B)/codegen/main.o,$(CODEGEN_OBJ))
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

FAKE_SRC := $(filter-out tests/fake_tg/main.c,$(wildcard tests/fake_tg/*.c))
FAKE_OBJ := $(FAKE_SRC:%.c=$(B)/%.o)
LIBFAKE := $(B)/libfaketg.a
$(LIBFAKE): $(FAKE_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BIN)/fake_tg: $(B)/tests/fake_tg/main.o $(LIBFAKE) $(LIBBOTRT)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(BIN)/tests/%)
UNIT_SUPPORT_OBJ := $(patsubst %.c,$(B)/%.o,$(wildcard tests/unit/support/*.c))

$(BIN)/tests/test_%: $(B)/tests/unit/test_%.o $(UNIT_SUPPORT_OBJ) $(LIBBOTC) $(LIBFAKE) $(LIBBOTRT)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

E2E_SRC := $(wildcard tests/e2e/*.c)
E2E_OBJ := $(E2E_SRC:%.c=$(B)/%.o)
$(BIN)/e2e: $(E2E_OBJ) $(LIBFAKE) $(LIBBOTRT)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

.PHONY: unit e2e
unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

check-generated: $(BOTC)
	@bash scripts/check-generated.sh $(BOTC)

e2e: all $(BIN)/e2e $(BIN)/fake_tg
	@BIN=$(BIN) $(BIN)/e2e tests/e2e/*.e2e

# Run the stages one after another even under -j: the end-to-end timings
# should not compete with the unit tests for the two cores.
test: all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory check-generated
	@$(MAKE) --no-print-directory e2e
	@echo "make test: all passed"

# Keep test objects between runs (they are intermediates of pattern rules).
.SECONDARY:

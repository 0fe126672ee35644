# botc — compile dialogue specs into Telegram bots.
#
#   make            build bin/botc and every bot under spec/: bin/<bot>, and
#                   bin/<bot>-test, the same bot with conversation tests
#   make run        the rental bot (terminal without TELEGRAM_BOT_TOKEN, live with it),
#                   reloaded in place when its spec changes
#   make test       unit tests, generated/ freshness, conversation tests,
#                   end-to-end tests (polling and webhook)
#   make test SANITIZE=1   the same under AddressSanitizer + UBSan (build-san/)
#   make help       every target
#
# Missing Debian packages are installed by scripts/install-deps.sh (as root)
# or named with the exact apt-get line.

SHELL := /bin/bash
.DEFAULT_GOAL := all

PKGS := libcurl libcjson sqlite3 lua5.4 yaml-0.1 libmicrohttpd cunit espeak-ng opus libopusenc opusfile samplerate pocketsphinx
# libstemmer (Snowball, ai/retr.c) has no pkg-config file: -lstemmer in LDLIBS_ALL

ifeq ($(FUZZ),1)
  # `make fuzz` (tests/fuzz/fuzz.mk): everything with clang, instrumented for
  # libFuzzer's coverage (the targets link -fsanitize=fuzzer themselves)
  B := build-fuzz
  BIN := build-fuzz/bin
  CC := clang
  CFLAGS := -O1 -g
  SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
    -fno-sanitize-recover=all
else ifeq ($(SANITIZE),1)
  B := build-san
  BIN := build-san/bin
  SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else
  B := build
  BIN := bin
  SANFLAGS :=
endif

CC ?= cc
RE2C ?= re2c
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_DEFAULT_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) \
  $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -MMD -MP
LDLIBS_ALL = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lstemmer -lm -lpthread
# --as-needed: a program maps only the libraries it calls (bots do not map
# Lua or CUnit; every mapped library costs resident pages at start).
LDFLAGS_ALL = $(SANFLAGS) -Wl,--as-needed $(LDFLAGS)

# ---- dependencies -----------------------------------------------------------
DEPS_STAMP := $(B)/.deps-ok
$(DEPS_STAMP): scripts/install-deps.sh
	@bash scripts/install-deps.sh
	@mkdir -p $(@D) && touch $@
deps: $(DEPS_STAMP)

# ---- codegen: bin/botc ------------------------------------------------------
CODEGEN_SRC := $(wildcard codegen/*.c)
CODEGEN_OBJ := $(CODEGEN_SRC:%.c=$(B)/%.o)
BOTC := $(BIN)/botc

$(BOTC): $(CODEGEN_OBJ) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

# ---- runtime: libbotrt.a (runtime/<concern>/*.c) ----------------------------
# The `--test` mode's ct_main is linked into each bot by BOT_BUILD, not from
# the library: the conversation-test runner (and libyaml with it) goes into
# the test build bin/<bot>-test only; the production bin/<bot> gets the
# stand-in that names the test build (runtime/front/convtest.h).
CONVTEST_OBJ := $(B)/runtime/front/convtest.o
CONVTEST_ABSENT_OBJ := $(B)/runtime/front/convtest_absent.o
RUNTIME_SRC := $(filter-out runtime/front/convtest.c runtime/front/convtest_absent.c,\
  $(sort $(wildcard runtime/*/*.c)))
RUNTIME_OBJ := $(RUNTIME_SRC:%.c=$(B)/%.o)
LIBBOTRT := $(B)/libbotrt.a

$(LIBBOTRT): $(RUNTIME_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(B)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Iruntime -Icodegen -c -o $@ $<

# ---- one bot: spec -> botc gen -> re2c -> cc -> link ------------------------
# The one recipe for every bot the tree builds: product bots (spec/), test
# fixtures (tests/e2e/specs/), the benchmark's bot and the `make run` dev
# build (scripts/dev-bot.mk). Everything in the recipes is written $$ so
# that it is expanded when the recipe runs, not when $(eval) reads it: on a
# fresh machine pkg-config prints nothing until install-deps.sh has run.
#
#   $(1) bot name (the spec's bot.name)   $(2) spec, or empty: no gen rule
#   $(3) folder of the generated sources  $(4) folder of the objects
#   $(5) the binary, and $(5)-test its test build ($(5) --test names it;
#        $(5)-test --test runs conversation tests)
#   $(6) extra compiler flags
#
# Both binaries link the same objects, and one definition of ct_main each.
# Linked beside its place and renamed over it: a running bot keeps its
# image, and a reload (SIGHUP) executes the new one.
define BOT_LINK
@mkdir -p $(@D)
$(CC) $(LDFLAGS_ALL) -o $@.new $^ $(LDLIBS_ALL)
@mv -f $@.new $@
endef

define BOT_BUILD
ifneq ($(2),)
# (the spec's knowledge files, *.txt beside it, are embedded: they count too)
# Generated code outside generated/ (fixtures, the benchmark's bot) carries
# #line directives into the spec; the checked-in files do not, so that a
# line added to a spec does not renumber them all (README, "Writing a spec").
$(3)/$(1).c $(3)/$(1).h $(3)/$(1).re $(3)/$(1)_main.c &: $(2) $(wildcard $(dir $(2))*.txt) $$(BOTC)
	$$(BOTC) gen $(2) -o $(3)$(if $(filter generated/%,$(3)),, --line-directives)
	@touch $(3)/$(1).c $(3)/$(1).h $(3)/$(1).re $(3)/$(1)_main.c
endif

$(4)/$(1)_match.c: $(3)/$(1).re | $$(DEPS_STAMP)
	@mkdir -p $$(@D)
	$$(RE2C) -W -Werror --utf8 -o $$@ $$<

$(4)/$(1)_match.o: $(4)/$(1)_match.c $(3)/$(1).h
	$$(CC) $$(ALL_CFLAGS) $(6) -Iruntime -I$(3) -c -o $$@ $$<

$(4)/$(1).o: $(3)/$(1).c $(3)/$(1).h | $$(DEPS_STAMP)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_CFLAGS) $(6) -Iruntime -I$(3) -c -o $$@ $$<

$(4)/$(1)_main.o: $(3)/$(1)_main.c $(3)/$(1).h | $$(DEPS_STAMP)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_CFLAGS) $(6) -Iruntime -I$(3) -c -o $$@ $$<

$(5): $(4)/$(1)_main.o $(4)/$(1).o $(4)/$(1)_match.o $$(CONVTEST_ABSENT_OBJ) $$(LIBBOTRT)
	$$(BOT_LINK)

$(5)-test: $(4)/$(1)_main.o $(4)/$(1).o $(4)/$(1)_match.o $$(CONVTEST_OBJ) $$(LIBBOTRT)
	$$(BOT_LINK)
endef

# ---- bots: spec/<bot>/bot.{yaml,lua} -> generated/<bot>/ -> bin/<bot> -----
BOT_SPECS := $(sort $(wildcard spec/*/bot.yaml spec/*/bot.lua))
BOTS := $(foreach s,$(BOT_SPECS),$(notdir $(patsubst %/,%,$(dir $(s)))))
$(foreach s,$(BOT_SPECS),$(eval $(call BOT_BUILD,$(notdir $(patsubst %/,%,$(dir $(s)))),$(s),generated/$(notdir $(patsubst %/,%,$(dir $(s)))),$(B)/gen/$(notdir $(patsubst %/,%,$(dir $(s)))),$(BIN)/$(notdir $(patsubst %/,%,$(dir $(s)))))))

BOT_BINS := $(BOTS:%=$(BIN)/%)
BOT_TEST_BINS := $(BOT_BINS:%=%-test)

# spec/<bot>/flow.dot, the flow as Graphviz text, is checked in beside the
# spec and kept current like generated/ (check-generated verifies it). The
# pictures drawn from it (`make graph`) are not checked in: they depend on
# the installed Graphviz and fonts, so nothing could tell a stale one.
define BOT_DOT
$(dir $(1))flow.dot: $(1) $$(BOTC)
	$$(BOTC) graph $(1) >$$@.new || { rm -f $$@.new; exit 1; }
	@mv -f $$@.new $$@
endef
$(foreach s,$(BOT_SPECS),$(eval $(call BOT_DOT,$(s))))
BOT_DOTS := $(foreach s,$(BOT_SPECS),$(dir $(s))flow.dot)

all: $(BOTC) $(BOT_BINS) $(BOT_TEST_BINS) $(BOT_DOTS)

# ---- help -------------------------------------------------------------------
BOT_NAMES = $(sort $(BOTS))
help:
	@echo "make                 build bin/botc and every bot under spec/ ($(BOT_NAMES)):"
	@echo "                     bin/<bot> and bin/<bot>-test, generated/<bot>/, spec/<bot>/flow.dot"
	@echo "make run             the rental bot in this terminal (on Telegram with"
	@echo "                     TELEGRAM_BOT_TOKEN set), reloaded when its spec changes"
	@echo "make run RUN_BOT=b   another bot; RUN_SPEC=path/bot.yaml a spec outside spec/"
	@echo "make test            unit, generated/ freshness, layers, conversation and e2e tests"
	@echo "make unit | check-generated | check-layers | convtest | e2e | e2e-webhook"
	@echo "                     one stage of make test"
	@echo "make graph           draw spec/<bot>/flow.svg and .png (Graphviz; not checked in)"
	@echo "make bench           the benchmarks (scripts/bench/run.sh, then bench-tts, bench-memory, bench-asr, bench-voice)"
	@echo "make fuzz            build the libFuzzer targets (clang, build-fuzz/) and run each"
	@echo "                     FUZZ_SECONDS (default 60) on its corpus (tests/fuzz/)"
	@echo "make clean           remove build/, build-san/ and bin/"
	@echo "SANITIZE=1           any of them under AddressSanitizer + UBSan (build-san/)"
	@echo "bin/botc --help      the generator: check, gen, graph, diff, test, import"

# ---- run --------------------------------------------------------------------
RUN_BOT ?= rental
# scripts/run-dev.sh: the bot in this terminal (or on Telegram), rebuilt (in
# $(B)/dev/, see scripts/dev-bot.mk) and reloaded in place whenever its spec
# changes.
run: $(BOTC)
	@mkdir -p var
	@RUN_BOT=$(RUN_BOT) BIN=$(BIN) SANITIZE=$(SANITIZE) MAKE="$(RUN_MAKE)" \
	  $(if $(RUN_SPEC),RUN_SPEC="$(RUN_SPEC)") bash scripts/run-dev.sh
RUN_MAKE = $(MAKE)# not $(MAKE) in the recipe: that would run it under make -n

# ---- pictures: spec/<bot>/flow.svg, .png (Graphviz), from flow.dot ---------
# (not checked in: see BOT_DOT above; .gitignore names them)
.PHONY: graph
graph: $(BOTC)
	@set -e; for s in $(BOT_SPECS); do \
	  echo "$(BOTC) graph $$s -o $$(dirname $$s)/flow"; \
	  $(BOTC) graph $$s -o $$(dirname $$s)/flow; done

# ---- tests ------------------------------------------------------------------
-include tests/tests.mk
-include tests/fuzz/fuzz.mk

# ---- benchmarks (scripts/bench/; always the normal -O2 build) ----------------
$(BIN)/bench: $(B)/scripts/bench/bench.o $(B)/tests/e2e/proc.o $(LIBFAKE) $(LIBFAKELLM) $(LIBBOTRT)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

# The "library floor" row: the bot's libraries and nothing else.
$(BIN)/bench-floor: $(B)/scripts/bench/floor.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

# The "slow" row's bot (scripts/bench/slow.yaml), generated under $(B)/: it
# is a benchmark fixture, not a product bot, so nothing lands in generated/.
$(eval $(call BOT_BUILD,slowbench,scripts/bench/slow.yaml,$(B)/bench/slowbench,$(B)/bench/slowbench,$(BIN)/slowbench))

bench: $(BIN)/bench-memory $(BIN)/bench-voice
	@bash scripts/bench/run.sh
	@echo
	@$(MAKE) --no-print-directory bench-tts
	@$(BIN)/bench-memory
	@echo
	@$(BIN)/bench-voice --bot $(BIN)/rental

# Voice notes under load (scripts/bench/voice.c): the menu's reply latency
# with and without 20 voice notes recognised offline at once, alternating
# runs; the notes' own latency.
$(BIN)/bench-voice: $(B)/scripts/bench/voice.o $(B)/tests/e2e/proc.o $(LIBFAKE) $(LIBBOTRT) $(BIN)/rental
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $(filter %.o %.a,$^) $(LDLIBS_ALL)

bench-voice: $(BIN)/bench-voice
	@$(BIN)/bench-voice --bot $(BIN)/rental

# Long-term memory at scale (scripts/bench/memory.c): 1,000 users x 100
# items in a real SQLite file behind the desk bot's machine; retrieval
# latency and the recall of planted facts (scripts/bench/memory_questions.tsv).
$(BIN)/bench-memory: $(B)/scripts/bench/memory.o $(B)/gen/desk/desk.o $(B)/gen/desk/desk_match.o $(SLURP_OBJ) $(LIBBOTRT)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

bench-memory: $(BIN)/bench-memory
	@$(BIN)/bench-memory
	@echo
	@$(MAKE) --no-print-directory bench-asr

# Retrieval at scale (scripts/bench/retrieval.c): 100,000 chunks, the
# question set's latencies.
$(BIN)/bench-retrieval: $(B)/scripts/bench/retrieval.o $(SLURP_OBJ) $(LIBBOTRT)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

bench-retrieval: $(BIN)/bench-retrieval
	@$(BIN)/bench-retrieval

# Formatting the model's answers (scripts/bench/markdown.c): render and
# split a long formatted answer, whole and as its drafts.
$(BIN)/bench-markdown: $(B)/scripts/bench/markdown.o $(SLURP_OBJ) $(LIBBOTRT)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

bench-markdown: $(BIN)/bench-markdown
	@$(BIN)/bench-markdown

# Offline speech of answers by voice (scripts/bench/tts.c): the real-time
# factor of espeak-ng + libopusenc on the speech fixtures' texts.
$(BIN)/bench-tts: $(B)/scripts/bench/tts.o $(SLURP_OBJ) $(LIBBOTRT)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

bench-tts: $(BIN)/bench-tts
	@$(BIN)/bench-tts

# Voice notes understood offline (scripts/bench/asr.c): the real-time
# factor of decode + recognition with the grammar and of dictation, on the
# speech fixtures, with the example bots' generated grammars.
$(BIN)/bench-asr: $(B)/scripts/bench/asr.o $(SLURP_OBJ) $(B)/gen/rental/rental.o \
  $(B)/gen/rental/rental_match.o $(B)/gen/desk/desk.o $(B)/gen/desk/desk_match.o $(LIBBOTRT)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

bench-asr: $(BIN)/bench-asr
	@$(BIN)/bench-asr

.PHONY: all deps help run test check-generated clean bench bench-retrieval bench-memory bench-markdown bench-tts bench-asr bench-voice
clean:
	rm -rf build build-san build-fuzz bin

-include $(shell find $(B) -name '*.d' 2>/dev/null)

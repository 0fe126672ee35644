# botc — compile dialogue specs into Telegram bots.
#
#   make            build bin/botc and every bot under spec/
#   make run        the rental bot (terminal without TELEGRAM_BOT_TOKEN, live with it),
#                   reloaded in place when its spec changes
#   make test       unit tests, generated/ freshness, end-to-end tests
#   make test SANITIZE=1   the same under AddressSanitizer + UBSan (build-san/)
#
# Missing Debian packages are installed by scripts/install-deps.sh (as root)
# or named with the exact apt-get line.

SHELL := /bin/bash
.DEFAULT_GOAL := all

PKGS := libcurl libcjson sqlite3 lua5.4 yaml-0.1 libmicrohttpd cunit

ifeq ($(SANITIZE),1)
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
LDLIBS_ALL = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -lpthread
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

# ---- runtime: libbotrt.a ----------------------------------------------------
RUNTIME_SRC := $(wildcard runtime/*.c)
RUNTIME_OBJ := $(RUNTIME_SRC:%.c=$(B)/%.o)
LIBBOTRT := $(B)/libbotrt.a

$(LIBBOTRT): $(RUNTIME_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(B)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Iruntime -Icodegen -c -o $@ $<

# ---- bots: spec/<bot>/bot.{yaml,lua} -> generated/<bot>/ -> bin/<bot> -----
BOT_SPECS := $(sort $(wildcard spec/*/bot.yaml spec/*/bot.lua))
BOTS := $(foreach s,$(BOT_SPECS),$(notdir $(patsubst %/,%,$(dir $(s)))))

# $(1) = bot name, $(2) = spec file
define BOT_RULES
# (the spec's knowledge files, *.txt beside it, are embedded: they count too)
generated/$(1)/$(1).c generated/$(1)/$(1).h generated/$(1)/$(1).re generated/$(1)/$(1)_main.c &: $(2) $(wildcard $(dir $(2))*.txt) $(BOTC)
	$(BOTC) gen $(2) -o generated/$(1)

$(B)/gen/$(1)/$(1)_match.c: generated/$(1)/$(1).re | $(DEPS_STAMP)
	@mkdir -p $$(@D)
	$(RE2C) -W -Werror --utf8 -o $$@ $$<

$(B)/gen/$(1)/%.o: $(B)/gen/$(1)/%.c
	$(CC) $(ALL_CFLAGS) -Iruntime -Igenerated/$(1) -c -o $$@ $$<

$(B)/gen/$(1)/$(1).o: generated/$(1)/$(1).c generated/$(1)/$(1).h | $(DEPS_STAMP)
	@mkdir -p $$(@D)
	$(CC) $(ALL_CFLAGS) -Iruntime -Igenerated/$(1) -c -o $$@ $$<

$(B)/gen/$(1)/$(1)_main.o: generated/$(1)/$(1)_main.c generated/$(1)/$(1).h | $(DEPS_STAMP)
	@mkdir -p $$(@D)
	$(CC) $(ALL_CFLAGS) -Iruntime -Igenerated/$(1) -c -o $$@ $$<

$(BIN)/$(1): $(B)/gen/$(1)/$(1)_main.o $(B)/gen/$(1)/$(1).o $(B)/gen/$(1)/$(1)_match.o $(LIBBOTRT)
	@mkdir -p $$(@D)
	$(CC) $(LDFLAGS_ALL) -o $$@ $$^ $(LDLIBS_ALL)
endef
$(foreach s,$(BOT_SPECS),$(eval $(call BOT_RULES,$(notdir $(patsubst %/,%,$(dir $(s)))),$(s))))

BOT_BINS := $(BOTS:%=$(BIN)/%)

all: $(BOTC) $(BOT_BINS)

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

# ---- pictures: spec/<bot>/flow.dot (+ .svg, .png when Graphviz is installed)
.PHONY: graph
graph: $(BOTC)
	@set -e; for s in $(BOT_SPECS); do \
	  echo "$(BOTC) graph $$s -o $$(dirname $$s)/flow"; \
	  $(BOTC) graph $$s -o $$(dirname $$s)/flow; done

# ---- tests ------------------------------------------------------------------
-include tests/tests.mk

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
SLOWB := $(B)/bench/slowbench
$(SLOWB)/slowbench.c $(SLOWB)/slowbench.h $(SLOWB)/slowbench.re $(SLOWB)/slowbench_main.c &: scripts/bench/slow.yaml $(BOTC)
	$(BOTC) gen $< -o $(SLOWB)
$(SLOWB)/slowbench_match.c: $(SLOWB)/slowbench.re
	$(RE2C) -W -Werror --utf8 -o $@ $<
$(SLOWB)/%.o: $(SLOWB)/%.c $(SLOWB)/slowbench.h
	$(CC) $(ALL_CFLAGS) -Iruntime -I$(SLOWB) -c -o $@ $<
$(BIN)/slowbench: $(SLOWB)/slowbench_main.o $(SLOWB)/slowbench.o $(SLOWB)/slowbench_match.o $(LIBBOTRT)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

bench:
	@bash scripts/bench/run.sh

.PHONY: all deps run test check-generated clean bench
clean:
	rm -rf build build-san bin

-include $(shell find $(B) -name '*.d' 2>/dev/null)

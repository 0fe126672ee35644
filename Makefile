# botc — compile dialogue specs into Telegram bots.
#
#   make            build bin/botc and every bot under spec/
#   make run        the rental bot (terminal without TELEGRAM_BOT_TOKEN, live with it)
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
LDFLAGS_ALL = $(SANFLAGS) $(LDFLAGS)

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
generated/$(1)/$(1).c generated/$(1)/$(1).h generated/$(1)/$(1).re generated/$(1)/$(1)_main.c &: $(2) $(BOTC)
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
run: $(BIN)/$(RUN_BOT)
	@mkdir -p var
	$(BIN)/$(RUN_BOT)

# ---- tests ------------------------------------------------------------------
-include tests/tests.mk

.PHONY: all deps run test check-generated clean
clean:
	rm -rf build build-san bin

-include $(shell find $(B) -name '*.d' 2>/dev/null)

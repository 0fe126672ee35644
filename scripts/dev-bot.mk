# scripts/dev-bot.mk — the bot that scripts/run-dev.sh (`make run`) runs and
# rebuilds on every change of its spec. Read after the Makefile, so the
# runtime library and the flags are the tree's own:
#
#   make -f Makefile -f scripts/dev-bot.mk DEV_DIR=build/dev/rental \
#        DEV_BOT=rental build/dev/rental/bin/rental
#
# $(DEV_DIR)/gen holds what `botc gen` wrote (run-dev.sh runs it first, so
# its diagnostics come unmixed with make's; no make rule writes there);
# DEV_BOT is the spec's bot.name.
#
# Why not bin/<bot>: botc leaves generated files whose content did not change
# alone, and here the objects follow those files by their times alone, so a
# reworded text recompiles <bot>.c and not the large re2c matcher (the tree's
# rules re-run botc as a recipe, and with tests.mk's `.SECONDARY:` make then
# rebuilds every object of the bot). The objects are built with -O0: a bot
# under development does not need the optimiser's time. The binary is linked
# beside its place and renamed over it, so the running bot keeps its image
# and a reload executes the new one.

DEV_GEN = $(DEV_DIR)/gen
DEV_OBJ_DIR = $(DEV_DIR)/obj
DEV_CFLAGS = $(filter-out -MMD -MP,$(ALL_CFLAGS)) -O0 -Iruntime -I$(DEV_GEN)
DEV_OBJ = $(DEV_OBJ_DIR)/$(DEV_BOT).o $(DEV_OBJ_DIR)/$(DEV_BOT)_main.o \
  $(DEV_OBJ_DIR)/$(DEV_BOT)_match.o

$(DEV_OBJ_DIR)/$(DEV_BOT)_match.c: $(DEV_GEN)/$(DEV_BOT).re
	@mkdir -p $(@D)
	$(RE2C) -W -Werror --utf8 -o $@ $<

$(DEV_OBJ_DIR)/$(DEV_BOT)_match.o: $(DEV_OBJ_DIR)/$(DEV_BOT)_match.c
	$(CC) $(DEV_CFLAGS) -c -o $@ $<

$(DEV_OBJ_DIR)/$(DEV_BOT).o: $(DEV_GEN)/$(DEV_BOT).c $(DEV_GEN)/$(DEV_BOT).h
	@mkdir -p $(@D)
	$(CC) $(DEV_CFLAGS) -c -o $@ $<

$(DEV_OBJ_DIR)/$(DEV_BOT)_main.o: $(DEV_GEN)/$(DEV_BOT)_main.c $(DEV_GEN)/$(DEV_BOT).h
	@mkdir -p $(@D)
	$(CC) $(DEV_CFLAGS) -c -o $@ $<

$(DEV_DIR)/bin/$(DEV_BOT): $(DEV_OBJ) $(LIBBOTRT)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) -o $@.new $^ $(LDLIBS_ALL)
	mv -f $@.new $@

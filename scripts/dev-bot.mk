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
# rule runs botc as a recipe and then touches all four files, or make would
# run botc again on every build; so every object of the bot is rebuilt). The
# objects are built with -O0: a bot under development does not need the
# optimiser's time. The binary is linked beside its place and renamed over
# it, so the running bot keeps its image and a reload executes the new one.

DEV_GEN = $(DEV_DIR)/gen
$(eval $(call BOT_BUILD,$(DEV_BOT),,$(DEV_GEN),$(DEV_DIR)/obj,$(DEV_DIR)/bin/$(DEV_BOT),-O0))

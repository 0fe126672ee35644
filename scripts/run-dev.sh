#!/usr/bin/env bash
# run-dev.sh — what `make run` runs: the bot in the foreground (it keeps the
# terminal's input), and a watcher in the background that looks at the spec
# and the files beside it (the knowledge files botc embeds) every second.
# When one changes the watcher rebuilds the bot quietly:
#
#   - the build works: the bot gets SIGHUP; it finishes the line being read,
#     prints "(spec reloaded)", closes its database and executes the new
#     binary in place (runtime/front/botmain.c). Every user keeps their state; the
#     states that are gone are migrated at start, as on any update.
#   - the spec has errors: botc's diagnostics are printed with the line
#     "spec has errors; still running the previous bot", and nothing changes.
#
# The same happens on Telegram (TELEGRAM_BOT_TOKEN set): the bot delivers
# what it has queued, stops polling and restarts with the new binary;
# updates that arrive meanwhile wait at Telegram.
#
# The bot that runs is built by scripts/dev-bot.mk in $B/dev/<bot>/ (quick
# incremental builds at -O0); generated/<bot>/ is kept current too, so the
# spec and its generated code can be committed together. bin/<bot> is left
# to `make`.
#
# Environment:
#   RUN_BOT   the bot, as named by its spec's bot.name (default rental)
#   RUN_SPEC  its spec (default spec/$RUN_BOT/bot.yaml, else bot.lua). A spec
#             elsewhere is built in RUN_DIR and never touches generated/ (the
#             live-reload test runs a copy that way).
#   RUN_DIR   where such a bot is built (default: a temp dir, removed at exit)
#   RUN_POLL  seconds between looks at the spec (default 1)
#   BIN, SANITIZE, MAKE  passed by the Makefile (bin or build-san/bin)
# Arguments go to the bot. The exit status is the bot's.
set -u

here=$(pwd)
cd "$(dirname "$0")/.." || exit 2
bot=${RUN_BOT:-rental}
poll=${RUN_POLL:-1}
make_cmd=${MAKE:-make}
sanitize=${SANITIZE:-}
if [ "$sanitize" = 1 ]; then
    bin_dir=${BIN:-build-san/bin} build_dir=build-san
else
    bin_dir=${BIN:-bin} build_dir=build
fi
botc=$bin_dir/botc
# the rebuilds are top-level makes of their own, not part of `make run`'s
unset MAKEFLAGS MFLAGS MAKELEVEL

say() { printf '%s\n' "$*" >&2; }

# The spec; "standard" when it is spec/<bot>/bot.{yaml,lua}.
std_spec=spec/$bot/bot.yaml
[ -f "$std_spec" ] || std_spec=spec/$bot/bot.lua
spec=${RUN_SPEC:-$std_spec}
case $spec in /*) ;; *) [ -n "${RUN_SPEC:-}" ] && spec=$here/$spec ;; esac
if [ ! -f "$spec" ] && [ -n "${RUN_SPEC:-}" ]; then
    say "run-dev: no spec at $spec"
    exit 2
elif [ ! -f "$spec" ]; then
    bots=$(for s in spec/*/bot.yaml spec/*/bot.lua; do
        [ -f "$s" ] && basename "$(dirname "$s")"; done | sort -u | tr '\n' ' ')
    say "run-dev: no bot '$bot' (no spec/$bot/bot.yaml or bot.lua); the bots: ${bots% }"
    say "run-dev: make run RUN_BOT=<bot>, or RUN_SPEC=path/to/bot.yaml"
    exit 2
fi
tmp_dir=
if [ -f "$std_spec" ] && [ "$(realpath "$spec")" = "$(realpath "$std_spec")" ]; then
    spec=$std_spec
    dev_dir=$build_dir/dev/$bot
    tree_gen=generated/$bot
else
    if [ -z "${RUN_DIR:-}" ]; then
        tmp_dir=$(mktemp -d "${TMPDIR:-/tmp}/botc-run.XXXXXX") || exit 2
        RUN_DIR=$tmp_dir
    fi
    mkdir -p "$RUN_DIR" || exit 2
    dev_dir=$(realpath "$RUN_DIR")
    tree_gen=
fi
bot_bin=$dev_dir/bin/$bot
cleanup() { [ -n "$tmp_dir" ] && rm -rf "$tmp_dir"; }

# Generate, then build quietly. Returns 0 when the bot is built, 1 when the
# spec has errors, 2 when the build failed; what botc (diagnostics, warnings)
# or the compiler said is left in build_out.
build_out=
build() {
    local rc mk
    mkdir -p "$dev_dir/gen" || return 2
    # (#line directives into the spec: the compiler's messages and gdb point
    # at its lines; the checked-in copy below has none, see README)
    build_out=$("$botc" gen "$spec" -o "$dev_dir/gen" --line-directives 2>&1) || return 1
    mk=$("$make_cmd" -s --no-print-directory ${sanitize:+SANITIZE=$sanitize} \
        -f Makefile -f scripts/dev-bot.mk "DEV_DIR=$dev_dir" "DEV_BOT=$bot" "$bot_bin" 2>&1)
    rc=$?
    mk=$(printf '%s\n' "$mk" |
        grep -v -E '^make(\[[0-9]+\])?: (\*\*\*|Nothing to be done|.*is up to date)')
    [ -n "$mk" ] && build_out+=${build_out:+$'\n'}$mk
    [ "$rc" = 0 ] || return 2
    # the checked-in copy, for the commit (unchanged files are not touched)
    [ -z "$tree_gen" ] || "$botc" gen "$spec" -o "$tree_gen" >/dev/null 2>&1
    return 0
}

# Print build_out and, unless empty, a line. On a terminal, start on a line
# of its own: the chat's "you> " prompt may be waiting on the current one.
report() {
    [ -z "$build_out" ] && [ -z "${1:-}" ] && return
    [ -t 2 ] && printf '\n' >&2
    [ -n "$build_out" ] && printf '%s\n' "$build_out" >&2
    [ -n "${1:-}" ] && say "$1"
}

# What to say when a build failed with status $1.
failed() {
    if [ "$1" = 1 ]; then report "spec has errors; $2"; else report "the build failed (see above); $2"; fi
}

# Modification time, size and inode: an editor that saves by renaming a new
# file over the old one changes the inode even within one clock tick.
stamp() { stat -L -c '%y %s %i' "$1" 2>/dev/null; }

# The spec and the files beside it, less pictures (make graph), editors'
# swap and backup files, and the tests folder (tests do not change the bot).
spec_dir=$(dirname "$spec")
stamp_all() {
    stamp "$spec" || return 1
    find "$spec_dir" -maxdepth 1 -type f ! -name '.*' ! -name '*~' ! -name '*.sw?' \
        ! -name 'flow.*' -printf '%p %TY-%Tm-%Td %TT %s %i\n' 2>/dev/null | sort
}

watch_spec() {
    local pid=$1 last now before rc
    last=$(stamp_all)
    while sleep "$poll" && kill -0 "$pid" 2>/dev/null; do
        now=$(stamp_all) || continue # being replaced: look again
        [ "$now" = "$last" ] && continue
        sleep 0.2 # let the editor finish writing
        last=$(stamp_all) || continue
        before=$(stamp "$bot_bin")
        build
        rc=$?
        if [ "$rc" != 0 ]; then
            failed "$rc" "still running the previous bot"
        elif [ "$(stamp "$bot_bin")" != "$before" ]; then
            report # warnings
            kill -HUP "$pid" 2>/dev/null
        else
            report "(spec saved; the bot did not change)"
        fi
    done
}

build
rc=$?
if [ "$rc" != 0 ]; then
    failed "$rc" "fix it and run again"
    cleanup
    exit 1
fi
[ -n "$build_out" ] && printf '%s\n' "$build_out" >&2
say "(watching ${spec#"$PWD/"}: save it and the bot reloads)"

# The bot gets this script's input explicitly: a background command's input
# would otherwise be /dev/null. It stays in the terminal's foreground group,
# so Ctrl-C reaches it directly.
exec 3<&0
"$bot_bin" "$@" <&3 3<&- &
bot_pid=$!
exec 3<&-
watch_spec "$bot_pid" </dev/null &
watch_pid=$!
trap 'kill -INT "$bot_pid" 2>/dev/null' INT
trap 'kill -TERM "$bot_pid" 2>/dev/null' TERM HUP

# wait returns early when a trap runs; wait again until the bot is gone.
while :; do
    wait "$bot_pid"
    rc=$?
    kill -0 "$bot_pid" 2>/dev/null || break
done
wait "$watch_pid" 2>/dev/null # it notices within RUN_POLL seconds
cleanup
exit "$rc"

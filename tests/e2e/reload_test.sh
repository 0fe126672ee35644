#!/usr/bin/env bash
# reload_test.sh — live reload (scripts/run-dev.sh, what `make run` runs),
# run by `make e2e`. A copy of the rental spec in a temp dir is served in the
# console (never the real spec: RUN_SPEC/RUN_DIR build it beside the copy),
# with a FIFO as the terminal's input. The test
#
#   1. chats: /start, opens "Rental conditions" (button 2);
#   2. edits a text of the copy and sends /help at once, racing the reload:
#      "(spec reloaded)" comes, /help is answered exactly once (no input is
#      lost or read twice across the re-exec), and button 1 of the screen
#      shown before the reload opens "Driver and documents" with the new
#      wording — the user's state and the numbered buttons survived;
#   3. breaks the spec: botc's diagnostics and "spec has errors; still
#      running the previous bot" are printed, no reload happens, and the
#      running bot still answers with the edited wording;
#   4. fixes the spec and rewords another text: it reloads again;
#   5. adds a comment: "(spec saved; the bot did not change)", no reload;
#      /quit ends the runner with status 0.
#
# Environment: BIN, SANITIZE (from tests.mk), RELOAD_TIMEOUT (seconds a step
# waits, default 60; the first step includes building the bot), RELOAD_KEEP=1
# (keep the temp dir with the session's output).
set -u
cd "$(dirname "$0")/../.." || exit 2

T=$(mktemp -d "${TMPDIR:-/tmp}/botc-reload.XXXXXX") || exit 2
mkdir "$T/rental"
cp spec/rental/bot.yaml spec/rental/*.txt "$T/rental/" 2>/dev/null # + knowledge files
spec=$T/rental/bot.yaml
out=$T/out
mkfifo "$T/in"
: >"$out"
wait_s=${RELOAD_TIMEOUT:-60}
started=$SECONDS
runner=
off=0

fail() {
    echo "reload_test: $*"
    echo "--- the last lines of the session ($out):"
    tail -n 30 "$out"
    [ -n "$runner" ] && kill "$runner" 2>/dev/null
    echo "kept $T"
    echo "FAIL reload_test"
    exit 1
}

mark() { off=$(stat -c %s "$out"); }
since_mark() { tail -c +$((off + 1)) "$out"; }

# wait_for TEXT: TEXT appears in the session after the mark.
wait_for() {
    local end=$((SECONDS + wait_s))
    until since_mark | grep -qF -- "$1"; do
        kill -0 "$runner" 2>/dev/null || fail "the runner ended while waiting for '$1'"
        [ "$SECONDS" -lt "$end" ] || fail "no '$1' within $wait_s s"
        sleep 0.1
    done
}

# count TEXT: how many lines of the session after the mark hold TEXT.
count() { since_mark | grep -cF -- "$1"; }

send() { printf '%s\n' "$1" >&3 || fail "cannot write '$1' to the bot"; }

# edit SED_EXPR: change the spec copy; the expression must change something.
edit() {
    cp "$spec" "$T/before.yaml"
    sed -i -e "$1" "$spec"
    cmp -s "$spec" "$T/before.yaml" && fail "the edit '$1' changed nothing"
}

# The runner, as `make run` starts it, with the FIFO as its terminal. An
# empty token keeps a TELEGRAM_BOT_TOKEN in ./.env from applying.
env RUN_BOT=rental RUN_SPEC="$spec" RUN_DIR="$T/build" BIN="${BIN:-bin}" \
    SANITIZE="${SANITIZE:-}" BOT_DB="$T/bot.db" TELEGRAM_BOT_TOKEN= \
    BOT_CONSOLE_LANG=en USER=ann BOT_LOG_LEVEL=warn \
    timeout -k 5 $((wait_s * 3)) bash scripts/run-dev.sh <"$T/in" >"$out" 2>&1 &
runner=$!
exec 3>"$T/in" # opens once the runner's shell opened the FIFO to read

# 1. the first screens
mark
send /start
wait_for "Hello, ann!"
mark
send 2
wait_for "Choose a topic for details:"

# 2. a PM-style edit while chatting, with a line typed during the reload
mark
edit 's/Minimum age 21; driving licence/Minimum age 21 (edited live); driving licence/'
send /help
wait_for "(spec reloaded)"
wait_for "How to use this bot"
mark
send 1
wait_for "Minimum age 21 (edited live)"
off=0
[ "$(count "How to use this bot")" = 1 ] || fail "/help was not answered exactly once"

# 3. a broken edit keeps the running bot
mark
edit 's/^  start: welcome$/  start: welcom/'
wait_for "spec has errors; still running the previous bot"
since_mark | grep -qE "bot\.yaml:[0-9]+:[0-9]+: error: .*welcom" ||
    fail "botc's diagnostic (bot.yaml:LINE:COL: error: ... welcom ...) was not printed"
send 1 # ⬅️ Back to the conditions
wait_for "Choose a topic for details:"
send 1
wait_for "Minimum age 21 (edited live)"
[ "$(count "(spec reloaded)")" = 0 ] || fail "a broken spec reloaded the bot"

# 4. fixing it, with another text reworded, reloads again
mark
edit 's/^  start: welcom$/  start: welcome/; s/Choose a topic for details:/Pick a topic for details:/'
wait_for "(spec reloaded)"
send 1 # ⬅️ Back
wait_for "Pick a topic for details:"

# 5. an edit that changes nothing in the bot (a comment) does not restart it
mark
edit '$a # a comment'
wait_for "(spec saved; the bot did not change)"
[ "$(count "(spec reloaded)")" = 0 ] || fail "a comment reloaded the bot"
send /quit
exec 3>&-
wait "$runner"
rc=$?
runner=
[ "$rc" = 0 ] || fail "the runner exited with status $rc after /quit"

if [ -n "${RELOAD_KEEP:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi
echo "PASS reload_test ($((SECONDS - started)) s)"

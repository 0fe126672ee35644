#!/usr/bin/env bash
# check-generated.sh BOTC — fail when generated/ is stale.
#
# For every spec/<bot>/bot.{yaml,lua}, regenerate into a temporary directory
# with the given botc and compare with the checked-in generated/<bot>/ and
# spec/<bot>/flow.dot (the flow's picture as Graphviz text).
# Prints the difference and exits 1 on any; run from the repository root
# (the banner names the spec path as given, so it must be the same relative
# path the Makefile uses).
set -u

BOTC=${1:?usage: check-generated.sh BOTC}
if [ ! -x "$BOTC" ]; then
    echo "check-generated: $BOTC is not an executable" >&2
    exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/botc-check.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT

status=0
n=0
shopt -s nullglob
for spec in spec/*/bot.yaml spec/*/bot.lua; do
    bot=$(basename "$(dirname "$spec")")
    n=$((n + 1))
    if ! "$BOTC" gen "$spec" -o "$tmp/$bot" 2>"$tmp/$bot.err"; then
        cat "$tmp/$bot.err" >&2
        echo "check-generated: botc gen $spec failed" >&2
        status=1
        continue
    fi
    if [ ! -d "generated/$bot" ]; then
        echo "generated/$bot is missing: run make" >&2
        status=1
        continue
    fi
    if ! diff -r -u "generated/$bot" "$tmp/$bot"; then
        echo "generated/$bot is stale: run make" >&2
        status=1
    fi
    dot="$(dirname "$spec")/flow.dot"
    if ! "$BOTC" graph "$spec" >"$tmp/$bot.dot" 2>"$tmp/$bot.err"; then
        cat "$tmp/$bot.err" >&2
        echo "check-generated: botc graph $spec failed" >&2
        status=1
    elif [ ! -f "$dot" ]; then
        echo "$dot is missing: run make" >&2
        status=1
    elif ! diff -u "$dot" "$tmp/$bot.dot"; then
        echo "$dot is stale: run make" >&2
        status=1
    fi
done

if [ "$status" -eq 0 ]; then
    echo "check-generated: $n bot(s) up to date"
fi
exit "$status"

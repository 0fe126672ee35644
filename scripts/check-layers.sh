#!/usr/bin/env bash
# check-layers.sh — the runtime's include graph follows its floors
# (ARCHITECTURE.md): a file may include headers of its own folder and of
# folders on lower floors, never of a folder on its own floor or above.
#
# The one exception is the dialogue's vocabulary: dialogue/machine.h (the
# generated tables, inputs, effects and sessions) with the two lists it
# derives from. Storage stores sessions and Telegram renders effects and
# parses inputs, so they read those types; machine.c itself uses base/ only.
#
# Prints every include that breaks the rule and exits 1; run from the root.
set -u

declare -A floor=(
  [base]=1 [net]=2 [storage]=2 [ai]=3 [telegram]=3 [dialogue]=4
  [people]=5 [web]=5 [actions]=6 [delivery]=7 [front]=8
)
vocabulary='dialogue/machine.h dialogue/action_list.h dialogue/sys_text_list.h'

status=0
n=0
for f in runtime/*/*.[ch]; do
  dir=${f#runtime/}
  dir=${dir%%/*}
  if [ -z "${floor[$dir]:-}" ]; then
    echo "check-layers: $f: folder '$dir' has no floor (add it here and to ARCHITECTURE.md)" >&2
    status=1
    continue
  fi
  while IFS= read -r inc; do
    n=$((n + 1))
    to=${inc%%/*}
    [ "$to" = "$dir" ] && continue
    case " $vocabulary " in *" $inc "*) continue ;; esac
    if [ -z "${floor[$to]:-}" ]; then
      echo "check-layers: $f includes \"$inc\": not a runtime folder" >&2
      status=1
    elif [ "${floor[$to]}" -ge "${floor[$dir]}" ]; then
      echo "check-layers: $f (${dir}, floor ${floor[$dir]}) includes \"$inc\" (${to}, floor ${floor[$to]})" >&2
      status=1
    fi
  done < <(sed -n 's/^#include "\([a-z_]*\/[a-z_]*\.h\)".*/\1/p' "$f")
done
[ "$status" -eq 0 ] && echo "check-layers: $n includes checked, none goes up or sideways"
exit "$status"

#!/usr/bin/env bash
# Makes the speech fixtures in tests/voice/: voice notes synthesized with
# espeak-ng and encoded like Telegram's voice notes (Ogg/Opus, mono, 48 kHz),
# plus tests/voice/fixtures.tsv that says what each one says.
#
#   scripts/voice-fixtures.sh [DIR]          remake the checked-in set
#   scripts/voice-fixtures.sh --long FILE    only the long note (> 60 s)
#
# Needs Debian's espeak-ng, opus-tools (opusenc) and sox; the fixtures are
# checked in, so tests do not. The output is deterministic: a fixed voice,
# speed, pitch and amplitude, sox's dither seeded (-R), a fixed Ogg serial
# number per file and no encoder date; remaking the set changes no byte
# unless a tool's version does.
#
# fixtures.tsv columns (tab-separated, one header line):
#   file      name in tests/voice/
#   lang      en | ru (the voice that spoke it; the user's language hint)
#   text      the transcript expected: exactly the words spoken, as written
#             in the spec without emoji for a button, or a command's name
#   kind      grammar   a button label or a command (recognised with the
#                       state's grammar: the transcript must match exactly)
#             dictation free text (scored by word error rate)
#             long      a note longer than 60 s (voice: max_seconds tests)
#   source    where the words come from: bot:text_key for a button, bot:/cmd
#             for a command, "-" for free text
set -euo pipefail

for tool in espeak-ng opusenc sox; do
  command -v "$tool" >/dev/null || {
    echo "voice-fixtures: $tool is missing (apt-get install espeak-ng opus-tools sox)" >&2
    exit 1
  }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

serial=1000

# synth LANG TEXT OUT: speak TEXT with the LANG voice into the Ogg/Opus OUT.
# espeak-ng writes 22.05 kHz WAV; sox resamples it to 48 kHz so the OpusHead
# says 48000 as a phone's recording does; 12 kbit/s speech keeps the files
# small and stays clear.
synth() {
  local lang=$1 text=$2 out=$3 voice
  case "$lang" in
    en) voice=en-us ;;
    ru) voice=ru ;;
    *) echo "voice-fixtures: no voice for $lang" >&2; exit 1 ;;
  esac
  espeak-ng -v "$voice" -s 150 -p 50 -a 100 -g 0 -w "$tmp/s.wav" -- "$text"
  # A quarter second of silence either side, as a person's note has.
  sox -R -q "$tmp/s.wav" -r 48000 -c 1 -b 16 "$tmp/r.wav" pad 0.25 0.25
  serial=$((serial + 1))
  opusenc --quiet --speech --bitrate 12 --serial "$serial" --padding 0 \
    "$tmp/r.wav" "$out"
}

# The long note: the dictation sentences read over and over until the speech
# passes 65 s, at the lowest bitrate to keep it small.
long_note() {
  local out=$1 i
  : > "$tmp/long.txt"
  for i in 1 2 3 4 5 6 7; do
    printf '%s ' "${DICTATION[@]}" >> "$tmp/long.txt"
  done
  espeak-ng -v en-us -s 150 -p 50 -a 100 -g 0 -w "$tmp/l.wav" -f "$tmp/long.txt"
  sox -R -q "$tmp/l.wav" -r 48000 -c 1 -b 16 "$tmp/lr.wav" trim 0 65
  opusenc --quiet --speech --bitrate 6 --serial 999 --padding 0 \
    "$tmp/lr.wav" "$out"
}

# Button labels (emoji dropped) and commands of spec/rental and spec/desk.
GRAMMAR=(
  "rental:btn_cars|Cars and prices"
  "rental:btn_terms|Rental conditions"
  "rental:btn_delivery|Delivery"
  "rental:btn_contacts|Contacts"
  "rental:btn_book|Book a car"
  "rental:btn_operator|Call an operator"
  "rental:btn_back|Back"
  "rental:btn_home|Main menu"
  "rental:btn_all_classes|All classes"
  "rental:btn_book_inline|Book"
  "rental:btn_website|Website"
  "rental:btn_t_driver|Driver and documents"
  "rental:btn_t_deposit|Deposit and payment"
  "rental:btn_t_insurance|Insurance"
  "rental:btn_t_abroad|Trips abroad"
  "rental:btn_t_fuel|Fuel and mileage"
  "rental:btn_map|Open on the map"
  "rental:btn_share_phone|Share my phone number"
  "rental:/start|start"
  "rental:/help|help"
  "rental:/cancel|cancel"
  "rental:/menu|menu"
  "desk:btn_new_session|New session"
  "desk:btn_persona|Agent profile"
  "desk:btn_export|Export my data"
  "desk:btn_delete|Delete my data"
  "desk:btn_change_persona|Choose another role"
  "desk:btn_persona_coder|Coder"
  "desk:btn_persona_product_manager|Product manager"
  "desk:btn_persona_assistant|Personal assistant"
)

DICTATION=(
  "I would like to rent a car for next week."
  "How much is the deposit for a compact car?"
  "Can you deliver the car to the airport in the morning?"
  "Do I need an international driving permit?"
  "Is it possible to drive the car to Montenegro?"
  "What happens if I return the car late in the evening?"
  "Please remind me to call the bank tomorrow at ten."
  "Write a short email to my team about the meeting on Friday."
  "Explain what a segmentation fault means in simple words."
  "What should I read to learn more about product metrics?"
)

RUSSIAN="Сколько стоит аренда машины на неделю?"

if [ "${1:-}" = "--long" ]; then
  [ $# -eq 2 ] || { echo "usage: $0 --long FILE" >&2; exit 2; }
  long_note "$2"
  exit 0
fi

dir=${1:-$(dirname "$0")/../tests/voice}
mkdir -p "$dir"
rm -f "$dir"/*.ogg
tsv="$dir/fixtures.tsv"
printf 'file\tlang\ttext\tkind\tsource\n' > "$tsv"

for entry in "${GRAMMAR[@]}"; do
  src=${entry%%|*}
  text=${entry#*|}
  name=$(printf '%s' "${src#*:}" | tr -c 'a-z0-9_\n' '_' | sed 's/^_*//')
  file="g_${src%%:*}_${name}.ogg"
  synth en "$text" "$dir/$file"
  printf '%s\ten\t%s\tgrammar\t%s\n' "$file" "$text" "$src" >> "$tsv"
done

i=0
for text in "${DICTATION[@]}"; do
  i=$((i + 1))
  file=$(printf 'd_en_%02d.ogg' "$i")
  synth en "$text" "$dir/$file"
  printf '%s\ten\t%s\tdictation\t-\n' "$file" "$text" >> "$tsv"
done

synth ru "$RUSSIAN" "$dir/d_ru_01.ogg"
printf 'd_ru_01.ogg\tru\t%s\tdictation\t-\n' "$RUSSIAN" >> "$tsv"

long_note "$dir/long_en.ogg"
printf 'long_en.ogg\ten\t-\tlong\t-\n' >> "$tsv"

echo "voice-fixtures: $(grep -c . "$tsv") lines in $tsv, $(du -sh "$dir" | cut -f1) in $dir"

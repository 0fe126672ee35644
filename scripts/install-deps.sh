#!/usr/bin/env bash
# Installs the Debian packages botc needs to build, run and test bots.
# As root it runs apt-get itself; otherwise it prints the exact command.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config re2c
  libcurl4-openssl-dev libcjson-dev libsqlite3-dev liblua5.4-dev
  libyaml-dev libmicrohttpd-dev libcunit1-dev
  libstemmer-dev    # Snowball stemmers: retrieval of the knowledge (ai/retr.c)
  poppler-utils     # pdftotext: botc import of PDF documents (codegen/import_pdf.c)
  libespeak-ng-dev  # offline speech of answers by voice (ai/tts.c; pulls espeak-ng-data)
  libopusenc-dev    # their Ogg/Opus voice notes (ai/tts.c; pulls libopus-dev)
  tzdata            # daily token limits count days in the spec's time zone
  ca-certificates   # HTTPS to api.telegram.org and LLM servers
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

[ ${#missing[@]} -eq 0 ] && exit 0

echo "botc: missing Debian packages: ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "botc: run this, then make again:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

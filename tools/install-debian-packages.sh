#!/usr/bin/env bash
# Installs the Debian packages the tests use beyond npm's:
# - chromium (and fonts-liberation, for readable screenshots): the dashboard's browser test
#   (playwright-core drives it at /usr/bin/chromium; `npx playwright install` cannot download a
#   browser here);
# - libsecp256k1-dev: the library offchain/native builds on (tools/build-native.sh).
# Idempotent: installs only what is missing. Needs root (or sudo) for apt-get.
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium fonts-liberation)
dpkg -s libsecp256k1-dev >/dev/null 2>&1 || missing+=(libsecp256k1-dev)
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-debian-packages: chromium and libsecp256k1-dev already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-debian-packages: need root (or sudo) to apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
[ -x /usr/bin/chromium ] && /usr/bin/chromium --version

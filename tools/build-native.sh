#!/usr/bin/env bash
# Builds offchain/native (keccak256 and secp256k1 on the system's libsecp256k1) where that
# library is installed: Debian's libsecp256k1-dev (tools/install-debian-packages.sh). Without
# it the runner uses the npm packages' slower bindings (offchain/crypto/nativeBackend.ts), so a
# failed build warns and exits 0: `npm ci` must work on a machine without the library.
# Runs from npm scripts, which put npm's own node-gyp on PATH.
set -uo pipefail
cd "$(dirname "$0")/../offchain/native"

if ! command -v node-gyp >/dev/null 2>&1; then
  echo "build-native: node-gyp is not on PATH: run this through npm (npm run build:native)" >&2
  exit 0
fi

log="$(mktemp)"
if node-gyp rebuild >"$log" 2>&1; then
  echo "build-native: built offchain/native on the system's libsecp256k1"
  rm -f "$log"
  exit 0
fi
rm -rf build
echo "build-native: offchain/native not built; the runner will use the npm packages' bindings" >&2
if ! echo '#include <secp256k1_recovery.h>' | ${CC:-cc} -E - >/dev/null 2>&1; then
  echo "build-native: libsecp256k1's headers are missing: install Debian's libsecp256k1-dev," >&2
  echo "build-native: then run npm run build:native" >&2
else
  grep -E "error|ERR!" "$log" | head -n 8 >&2
fi
rm -f "$log"
exit 0

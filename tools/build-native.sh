#!/usr/bin/env bash
# Builds the runner's two native modules. Each has a slower fallback, so a failed build warns
# and exits 0: `npm ci` must work on a machine without a compiler or the library.
# - offchain/native/lora: the BGMV kernel that serves adapters (offchain/runner/executor/
#   loraKernel.ts); needs only a C compiler. Without it the runner serves with the gather graph.
# - offchain/native: keccak256 and secp256k1 on the system's libsecp256k1, Debian's
#   libsecp256k1-dev (tools/install-debian-packages.sh). Without it the runner uses the npm
#   packages' slower bindings (offchain/crypto/nativeBackend.ts).
# Runs from npm scripts, which put npm's own node-gyp on PATH.
set -uo pipefail
cd "$(dirname "$0")/../offchain/native"

if ! command -v node-gyp >/dev/null 2>&1; then
  echo "build-native: node-gyp is not on PATH: run this through npm (npm run build:native)" >&2
  exit 0
fi

# Builds the module in the current folder; on failure removes its build folder and prints the
# compiler's first errors.
build() {
  local log
  log="$(mktemp)"
  if node-gyp rebuild >"$log" 2>&1; then
    rm -f "$log"
    return 0
  fi
  rm -rf build
  grep -E "error|ERR!" "$log" | head -n 8 >&2
  rm -f "$log"
  return 1
}

if (cd lora && build); then
  echo "build-native: built offchain/native/lora, the LoRA serving kernel"
else
  echo "build-native: offchain/native/lora not built; the runner will serve with the gather graph" >&2
fi

if ! echo '#include <secp256k1_recovery.h>' | ${CC:-cc} -E - >/dev/null 2>&1; then
  rm -rf build
  echo "build-native: offchain/native not built; the runner will use the npm packages' bindings" >&2
  echo "build-native: libsecp256k1's headers are missing: install Debian's libsecp256k1-dev," >&2
  echo "build-native: then run npm run build:native" >&2
elif build; then
  echo "build-native: built offchain/native on the system's libsecp256k1"
else
  echo "build-native: offchain/native not built; the runner will use the npm packages' bindings" >&2
fi
exit 0

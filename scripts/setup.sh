#!/usr/bin/env bash
# Idempotent developer / CI setup for crypto-health.
#
# Installs (skipping whatever is already present):
#   - the wasm32-unknown-unknown rustup target
#   - wasm-bindgen-cli at exactly the version pinned in crates/wasm/Cargo.toml
#   - wasm-pack
#   - Debian chromium + chromium-driver (browser tests, release smoke test)
#   - the root npm devDependencies (binaryen's wasm-opt, playwright-core, ajv, vite, ...)
#   - matrix-synapse (pinned) + psycopg2-binary in the venv .venv/synapse, for the end-to-end tests
#   - Debian postgresql (server binaries for the private test clusters of scripts/pg-cluster.sh;
#     no system-wide service is used), libssl-dev + pkg-config (the CLI's PostgreSQL TLS)
#
# Expects rustup, cargo, node >= 20 and npm on PATH. Runs as root on the project
# machines (apt-get is called without sudo when we are root, with sudo otherwise).
# Safe to run repeatedly and non-interactively (CI=true, no stdin).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

export PATH="$HOME/.cargo/bin:$PATH"

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' is required but not on PATH"; }

# --------------------------------------------------------------------------- rust
setup_rust_target() {
  need rustup
  need cargo
  if rustup target list --installed | grep -qx 'wasm32-unknown-unknown'; then
    log "rustup target wasm32-unknown-unknown: present"
  else
    log "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
  # The lint stage: cargo fmt and clippy.
  if cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1; then
    log "rustfmt + clippy: present"
  else
    log "rustup component add rustfmt clippy"
    rustup component add rustfmt clippy
  fi
}

# The wasm-bindgen version pinned by the wasm crate (`wasm-bindgen = "=X.Y.Z"`,
# possibly inherited from [workspace.dependencies] in the root Cargo.toml).
pinned_wasm_bindgen_version() {
  local line=""
  local f
  for f in crates/wasm/Cargo.toml Cargo.toml; do
    [ -f "$f" ] || continue
    # `wasm-bindgen = "=0.2.130"` or `wasm-bindgen = { version = "=0.2.130", ... }`
    line="$(grep -E '^[[:space:]]*wasm-bindgen[[:space:]]*=' "$f" | grep -E '[0-9]+\.[0-9]+\.[0-9]+' | head -n1 || true)"
    [ -n "$line" ] && break
  done
  [ -n "$line" ] || return 1
  printf '%s\n' "$line" | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n1
}

setup_wasm_bindgen() {
  local want have=""
  if ! want="$(pinned_wasm_bindgen_version)"; then
    die "could not find a pinned wasm-bindgen version in crates/wasm/Cargo.toml or Cargo.toml"
  fi
  if command -v wasm-bindgen >/dev/null 2>&1; then
    have="$(wasm-bindgen --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n1 || true)"
  fi
  if [ "$have" = "$want" ]; then
    log "wasm-bindgen-cli $want: present"
  else
    log "cargo install wasm-bindgen-cli --version $want (installed: ${have:-none}; takes a few minutes)"
    # No --locked: the registry lags the CLI's lock file, and --locked then fails.
    cargo install wasm-bindgen-cli --version "$want" --force
  fi
}

setup_wasm_pack() {
  if command -v wasm-pack >/dev/null 2>&1; then
    log "wasm-pack: present ($(wasm-pack --version 2>/dev/null || echo '?'))"
  else
    log "cargo install wasm-pack (takes a few minutes)"
    cargo install wasm-pack
  fi
}

# ----------------------------------------------------------------------- chromium
setup_chromium() {
  if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    log "chromium + chromedriver: present"
    return
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to apt-get install chromium"
    sudo="sudo"
  fi
  log "apt-get install chromium chromium-driver"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver
  [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || die "chromium/chromedriver still missing after apt-get"
}

# ---------------------------------------------------------------------------- npm
setup_npm() {
  need node
  need npm
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || die "node >= 20 required (found $(node --version))"
  # node_modules/.setup-stamp holds a hash of package.json + package-lock.json as of
  # the last successful install: skip when they have not changed since.
  local stamp=node_modules/.setup-stamp want_stamp
  want_stamp="$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_stamp" ] && [ -x node_modules/.bin/wasm-opt ]; then
    log "node_modules: up to date with package-lock.json"
    return
  fi
  if [ -f package-lock.json ]; then
    log "npm ci"
    npm ci --no-audit --no-fund
  else
    log "npm install (no package-lock.json)"
    npm install --no-audit --no-fund
    want_stamp="$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)"
  fi
  printf '%s\n' "$want_stamp" > "$stamp"
}

# ------------------------------------------------------------------------ synapse
# A real homeserver for the end-to-end tests (`npm run e2e`): matrix-synapse
# from PyPI, pinned, in a venv at .venv/synapse (git-ignored). Skipped when the venv
# imports the pinned version. CRYPTO_HEALTH_SKIP_SYNAPSE=1 skips the step entirely.
SYNAPSE_VERSION="1.163.2"
SYNAPSE_VENV=".venv/synapse"

synapse_present() {
  [ -x "$SYNAPSE_VENV/bin/python" ] &&
    "$SYNAPSE_VENV/bin/python" -c "import sys, importlib.metadata as m, synapse, psycopg2; sys.exit(0 if m.version('matrix-synapse') == '$SYNAPSE_VERSION' else 1)" >/dev/null 2>&1
}

setup_synapse() {
  if [ "${CRYPTO_HEALTH_SKIP_SYNAPSE:-}" = "1" ]; then
    log "synapse: skipped (CRYPTO_HEALTH_SKIP_SYNAPSE=1)"
    return
  fi
  if synapse_present; then
    log "synapse $SYNAPSE_VERSION ($SYNAPSE_VENV): present"
    return
  fi
  need python3
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    log "apt-get install python3-venv"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv
  fi
  if [ ! -x "$SYNAPSE_VENV/bin/python" ]; then
    log "python3 -m venv $SYNAPSE_VENV"
    rm -rf "$SYNAPSE_VENV"
    python3 -m venv "$SYNAPSE_VENV"
  fi
  log "pip install matrix-synapse==$SYNAPSE_VERSION psycopg2-binary (into $SYNAPSE_VENV; takes a minute)"
  "$SYNAPSE_VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q "matrix-synapse==$SYNAPSE_VERSION" psycopg2-binary
  synapse_present || die "synapse $SYNAPSE_VERSION still not importable from $SYNAPSE_VENV"
}

# --------------------------------------------------------------------- postgresql
# Server binaries only: the tests start their own cluster under target/ (scripts/pg-cluster.sh).
setup_postgresql() {
  if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v psql >/dev/null 2>&1 &&
     [ -f /usr/include/openssl/ssl.h ] && command -v pkg-config >/dev/null 2>&1; then
    log "postgresql + libssl-dev: present"
    return
  fi
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  log "apt-get install postgresql libssl-dev pkg-config"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql libssl-dev pkg-config
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || die "postgresql server binaries still missing after apt-get"
}

main() {
  setup_rust_target
  setup_wasm_bindgen
  setup_wasm_pack
  setup_chromium
  setup_npm
  setup_postgresql
  setup_synapse
  log "done"
}

main "$@"

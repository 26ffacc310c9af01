#!/usr/bin/env bash
# One-command set-up used by `make test`, `make demo`, `make bench`:
# a pinned virtualenv and the real CNCF registry (plus skopeo when asked).
# Usage: scripts/bootstrap.sh [--with-skopeo]
set -euo pipefail
cd "$(dirname "$0")/.."

want_skopeo=0
[ "${1:-}" = "--with-skopeo" ] && want_skopeo=1

say() { printf 'bootstrap: %s\n' "$*" >&2; }

# --- Python virtualenv, reinstalled only when the pinned requirements change ---
PYTHON=${PYTHON:-python3}
stamp=.venv/.requirements.sha256
want_hash=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want_hash" ]; then
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    say "Python 3.11 or newer is required (set PYTHON=/path/to/python3.11)."; exit 1
  fi
  say "creating .venv and installing pinned requirements"
  "$PYTHON" -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  echo "$want_hash" > "$stamp"
fi

# --- system packages: the CNCF registry (tests, demo) and skopeo (bench) ---
apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    say "'$1' is missing and apt-get is not available on this machine."
    say "On macOS: 'brew install distribution' and run with REGISTRY_BIN=\$(brew --prefix)/bin/registry"
    [ "$1" = skopeo ] && say "and 'brew install skopeo'."
    exit 1
  fi
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  say "installing Debian package '$1'"
  $sudo apt-get update -qq >/dev/null 2>&1 || $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$1" >/dev/null
}

if [ -n "${REGISTRY_BIN:-}" ]; then
  [ -x "$REGISTRY_BIN" ] || { say "REGISTRY_BIN=$REGISTRY_BIN is not an executable file."; exit 1; }
elif ! command -v docker-registry >/dev/null 2>&1 && ! command -v registry >/dev/null 2>&1; then
  apt_install docker-registry
fi

if [ "$want_skopeo" = 1 ] && ! command -v skopeo >/dev/null 2>&1; then
  apt_install skopeo
fi

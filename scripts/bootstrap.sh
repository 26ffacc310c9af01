#!/usr/bin/env bash
# One-command set-up.
#   scripts/bootstrap.sh                 make test / demo / lint: pinned virtualenv + the real CNCF registry
#   scripts/bootstrap.sh --with-skopeo   make bench: the same plus skopeo
#   scripts/bootstrap.sh --deploy        make synth / diff / deploy / destroy: a virtualenv with the
#                                        hash-locked deploy requirements and the pinned CDK CLI in
#                                        ./node_modules. Needs only Python and Node; never calls apt.
set -euo pipefail
cd "$(dirname "$0")/.."

want_skopeo=0
mode=test
case "${1:-}" in
  --with-skopeo) want_skopeo=1 ;;
  --deploy) mode=deploy ;;
  "") ;;
  *) printf 'usage: %s [--with-skopeo|--deploy]\n' "$0" >&2; exit 2 ;;
esac

say() { printf 'bootstrap: %s\n' "$*" >&2; }

need_python() {
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    say "Python 3.11 or newer is required (set PYTHON=/path/to/python3.11)."; exit 1
  fi
}

PYTHON=${PYTHON:-python3}
stamp=.venv/.requirements.sha256
want_hash=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)

if [ "$mode" = deploy ]; then
  # --- deploy: Python packages from the hash-locked list, unless the full test venv is already current ---
  deploy_stamp=.venv/.deploy.sha256
  deploy_hash=$(sha256sum requirements-deploy.lock | cut -d' ' -f1)
  if [ ! -x .venv/bin/python ] || { [ "$(cat "$stamp" 2>/dev/null)" != "$want_hash" ] \
      && [ "$(cat "$deploy_stamp" 2>/dev/null)" != "$deploy_hash" ]; }; then
    need_python
    say "installing the hash-locked deploy requirements into .venv"
    [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-deploy.lock
    echo "$deploy_hash" > "$deploy_stamp"
  fi
  # --- the CDK CLI, pinned by package-lock.json, local to this checkout ---
  if ! command -v node >/dev/null 2>&1 || ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)'; then
    say "Node.js 20 or newer is required for the CDK CLI (https://nodejs.org, or your package manager)."; exit 1
  fi
  cli_stamp=node_modules/.package-lock.sha256
  cli_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ ! -x node_modules/.bin/cdk ] || [ "$(cat "$cli_stamp" 2>/dev/null)" != "$cli_hash" ]; then
    say "installing the pinned CDK CLI into ./node_modules (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error >&2
    echo "$cli_hash" > "$cli_stamp"
  fi
  exit 0
fi

# --- Python virtualenv, reinstalled only when the pinned requirements change ---
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want_hash" ]; then
  need_python
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

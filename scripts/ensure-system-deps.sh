#!/usr/bin/env bash
# Installs the Debian packages the test suites need, only when missing.
# Idempotent; prints what it does. Needs root (or passwordless sudo) only if
# something is actually missing.
set -euo pipefail

need=()
command -v git >/dev/null 2>&1 || need+=(git)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v jq >/dev/null 2>&1 || need+=(jq)  # tests/contract runs the skills' jq lines
# systemd-analyze verifies the generated systemd user unit (tests/daemon/test_systemd.py).
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
if [ "${TINA_NEED_BROWSER:-1}" = "1" ] && [ ! -x /usr/bin/chromium ]; then need+=(chromium); fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing system packages: ${need[*]} (install them with your package manager)" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "missing system packages: ${need[*]}; run as root: apt-get install ${need[*]}" >&2
    exit 1
  fi
fi
echo "installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# apt-utils is not needed; say nothing about it.
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2> >(grep -v "^debconf: delaying package configuration" >&2)

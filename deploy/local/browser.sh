#!/usr/bin/env bash
# Debian's headless Chromium for the dashboard's browser tests (no browser download at run time).
# Usage: deploy/local/browser.sh {install|path}
set -euo pipefail
case "${1:-install}" in
  install)
    if ! command -v chromium >/dev/null 2>&1; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || {
        apt-get update >/dev/null && apt-get install -y --no-install-recommends chromium >/dev/null; }
    fi
    command -v chromium ;;
  path) command -v chromium ;;
  *) echo "usage: $0 {install|path}" >&2; exit 2 ;;
esac

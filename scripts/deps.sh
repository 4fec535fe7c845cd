#!/usr/bin/env bash
# Installs, from Debian's apt, what wardsync's build and tests need and the
# machine lacks: PostgreSQL always, plus the packages named as arguments
# (mk/*.mk add theirs: Chromium, Xvfb, WebKitGTK…). Quiet when all is there.
set -euo pipefail
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in postgresql postgresql-contrib "$@"; do have "$p" || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing ${need[*]}; run: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "deps: installing ${need[*]}" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
fi
command -v go >/dev/null || { echo "deps: Go 1.26 is required on PATH" >&2; exit 1; }
command -v npm >/dev/null || { echo "deps: Node 20 and npm are required on PATH" >&2; exit 1; }

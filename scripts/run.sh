#!/usr/bin/env bash
# make run: a project-local PostgreSQL (unless DATABASE_URL is set), migrate,
# seed, then the server in the foreground.
set -euo pipefail
addr=${1:-127.0.0.1:8420}
repo=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${DATABASE_URL:-}" ]; then
  DATABASE_URL=$(bash "$repo/scripts/pg.sh" start)
  export DATABASE_URL
fi
bin="$repo/build/wardsync-server"
"$bin" migrate
"$bin" seed
echo
echo "Dashboard:   http://$addr/admin   (log in as admin@hospital.com / admin123)"
echo "PostgreSQL:  $DATABASE_URL"
echo "Stop with Ctrl-C; 'make db-stop' stops PostgreSQL."
echo
# The escrow key of the workstations' replica keys (docs/security.md): a
# local file for the demo, made on first start. WARDSYNC_ESCROW_KEY_FILE wins.
mkdir -p "$repo/.data"
exec "$bin" serve -addr "$addr" -escrow-key-file "${WARDSYNC_ESCROW_KEY_FILE:-$repo/.data/escrow.key}"

#!/usr/bin/env bash
# make shot: the real window. Runs the production desktop binary
# (build/wardsync-desktop, `make desktop`) under Xvfb against a server on a
# fresh seeded database, and saves screenshots of the whole screen:
#   build/screenshots/window-login.png        the login screen
#   build/screenshots/window-login-error.png  a wrong password refused
#   build/screenshots/window-nurse.png        a nurse's dashboard, after typing
#                                             her e-mail and password with xdotool
#   build/screenshots/window-offline.png      the same once the server is gone
# e2e/desktop's TestWindowScreenshots then checks they are not blank.
#
# Needs: xvfb xauth xdotool imagemagick (make deps), PostgreSQL (scripts/pg.sh
# or $DATABASE_URL; a database named wardsync_shot is recreated in it).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${WARDSYNC_DESKTOP_BIN:-$repo/build/wardsync-desktop}
server=${WARDSYNC_SERVER_BIN:-$repo/build/wardsync-server}
out=${WARDSYNC_SHOT_DIR:-$repo/build/screenshots}
log() { echo "shot.sh: $*" >&2; }

for tool in Xvfb xdotool import compare psql curl; do
  command -v "$tool" >/dev/null || { log "$tool is missing: make deps (apt-get install -y xvfb xauth xdotool imagemagick)"; exit 1; }
done
[ -x "$bin" ] || { log "$bin is missing: make desktop"; exit 1; }
[ -x "$server" ] || { log "$server is missing: make server"; exit 1; }
mkdir -p "$out"

work=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# A database of its own, seeded.
base=${DATABASE_URL:-$(bash "$repo/scripts/pg.sh" start)}
dburl=$(sed -E 's#^([^?]*/)[^/?]*(\?|$)#\1wardsync_shot\2#' <<<"$base")
psql "$base" -qX -v ON_ERROR_STOP=1 -c 'DROP DATABASE IF EXISTS wardsync_shot WITH (FORCE)' -c 'CREATE DATABASE wardsync_shot' >/dev/null 2>&1
DATABASE_URL=$dburl "$server" migrate >/dev/null
device=$(DATABASE_URL=$dburl "$server" seed | sed -nE 's/.*demo workstation id ([0-9a-f-]{36}).*/\1/p')
[ -n "$device" ] || { log "seed did not name the demo workstation"; exit 1; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=$((18500 + RANDOM % 1000))
while ! port_free "$port"; do port=$((port + 1)); done
DATABASE_URL=$dburl "$server" serve -addr "127.0.0.1:$port" >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
curl -fs "http://127.0.0.1:$port/healthz" >/dev/null || { log "the server did not start"; cat "$work/server.log" >&2; exit 1; }

# A virtual screen: no window manager, so the window has no title bar.
n=$((150 + RANDOM % 300))
while [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ]; do n=$((n + 1)); done
export DISPLAY=":$n"
Xvfb "$DISPLAY" -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X$n" ] && break; sleep 0.1; done

NO_AT_BRIDGE=1 WEBKIT_DISABLE_COMPOSITING_MODE=1 GDK_BACKEND=x11 \
  "$bin" -db "$work/workstation.db" -server "http://127.0.0.1:$port" -device "$device" >"$work/app.log" 2>&1 &
app=$!
pids+=("$app")

# settle waits until the screen shows something (more than min colours)
# and stays the same for a moment; then saves it as $1.
settle() {
  local file=$1 min=$2 prev="$work/prev.png" cur="$work/cur.png" i colours
  rm -f "$prev"
  for i in $(seq 60); do
    kill -0 "$app" 2>/dev/null || { log "the app exited"; cat "$work/app.log" >&2; exit 1; }
    import -window root "$cur"
    colours=$(identify -format '%k' "$cur")
    if [ "$colours" -ge "$min" ] && [ -f "$prev" ] && [ "$(compare -metric AE "$prev" "$cur" null: 2>&1 || true)" = 0 ]; then
      cp "$cur" "$file"
      log "saved $file ($colours colours)"
      return 0
    fi
    cp "$cur" "$prev"
    sleep 0.5
  done
  log "the screen did not settle for $file"; cat "$work/app.log" >&2; exit 1
}

wid=""
for _ in $(seq 150); do
  wid=$(xdotool search --onlyvisible --name '^wardsync' 2>/dev/null | head -1 || true)
  [ -n "$wid" ] && break
  sleep 0.2
done
[ -n "$wid" ] || { log "no wardsync window appeared"; cat "$work/app.log" >&2; exit 1; }
settle "$out/window-login.png" 40

# Type like a nurse: the e-mail field has the focus when the page loads.
# First a wrong password: the server's sentence shows under the form.
xdotool windowfocus "$wid" 2>/dev/null || true
sleep 0.2
xdotool type --delay 20 'nurse@hospital.com'
xdotool key Tab
xdotool type --delay 20 'not-her-password'
xdotool key Return
sleep 1
settle "$out/window-login-error.png" 40
# The refused password is selected: typing replaces it.
xdotool type --delay 20 'nurse123'
xdotool key Return
# The title names the user once logged in.
for _ in $(seq 150); do
  xdotool search --onlyvisible --name 'NURSE' >/dev/null 2>&1 && break
  sleep 0.2
done
xdotool search --onlyvisible --name 'NURSE' >/dev/null 2>&1 || { log "the nurse did not get in"; import -window root "$out/window-failed.png"; cat "$work/app.log" >&2; exit 1; }
sleep 1 # the first sync
settle "$out/window-nurse.png" 40

# The server goes away: the sync bar says since when, counts down to the
# next attempt and offers "Send now".
kill "${pids[0]}" 2>/dev/null || true
wait "${pids[0]}" 2>/dev/null || true
# The countdown changes every second, so the screen never stays the same:
# one shot once the bar says "Offline".
sleep 3
kill -0 "$app" 2>/dev/null || { log "the app exited"; cat "$work/app.log" >&2; exit 1; }
import -window root "$out/window-offline.png"
log "saved $out/window-offline.png ($(identify -format '%k' "$out/window-offline.png") colours)"

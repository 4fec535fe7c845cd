#!/usr/bin/env bash
# make dist: the release artefacts in dist/, with SHA256SUMS (docs/install.md).
#
#   wardsync-server_<debv>_amd64.deb    server, systemd unit, wardsync user, /etc/wardsync/wardsync.env
#   wardsync-desktop_<debv>_amd64.deb   desktop (WebKitGTK), .desktop entry, icon
#   wardsync-desktop-<v>-x64.msi        Windows desktop (WebView2), per machine, silent properties
#   wardsync-station-<v>-linux-amd64    headless workstation engine
#   wardsync-station-<v>-windows-amd64.exe
#
# <v> is $VERSION (git describe without its "v": 1.3.0, 1.3.0-4-g497cf88);
# <debv> the same spelled for dpkg (1.3.0+4.g497cf88). The frontend bundle
# must be built (make dist does it). Builds keep the Go build cache warm: no
# -trimpath, which would recompile everything (minutes for WebKitGTK and
# the Windows tree).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${VERSION:?VERSION is not set (make dist sets it from git describe)}"
: "${COMMIT:?COMMIT is not set}"
GO=${GO:-go}
OUT=${DIST_DIR:-dist}
WORK=build/dist

core=${VERSION%%[-+]*}
if ! [[ $core =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
  echo "dist: VERSION $VERSION does not start with MAJOR.MINOR.PATCH" >&2
  exit 1
fi
major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]} patch=${BASH_REMATCH[3]}
# Commits since the release tag: the fourth number of Windows versions.
since=0
if [[ $VERSION =~ ^[0-9.]+-([0-9]+)-g ]]; then since=${BASH_REMATCH[1]}; fi
debv=$(sed -e 's/-/+/' -e 's/-/./g' <<<"$VERSION")
msiv="$major.$minor.$patch.$since"
ldx="-X wardsync/version.Version=$VERSION -X wardsync/version.Commit=$COMMIT"

rm -rf "$OUT" "$WORK"
mkdir -p "$OUT" "$WORK"/{linux,windows,msi}
step() { echo "dist: $*" >&2; }

step "tools"
$GO build -o "$WORK/wardsync-pack" ./packaging/cmd/wardsync-pack

step "linux: server, station, desktop"
CGO_ENABLED=0 $GO build -ldflags "-s -w $ldx" -o "$WORK/linux/wardsync-server" ./server/cmd/wardsync-server
CGO_ENABLED=0 $GO build -ldflags "-s -w $ldx" -o "$WORK/linux/wardsync-station" ./desktop/cmd/wardsync-station
$GO build -tags desktop,production,webkit2_41 -ldflags "-s -w $ldx" -o "$WORK/linux/wardsync-desktop" .

step "windows: station, desktop (icon, version information, manifest)"
export GOOS=windows GOARCH=amd64 CGO_ENABLED=0
$GO build -ldflags "-s -w $ldx" -o "$WORK/windows/wardsync-station.exe" ./desktop/cmd/wardsync-station
# The resources are linked from the main package's folder, only for this build.
syso=rsrc_windows_amd64.syso
trap 'rm -f "$syso"' EXIT
"$WORK/wardsync-pack" syso -version "$VERSION" -commit "$COMMIT" -build "$since" -o "$syso"
$GO build -tags desktop,production -ldflags "-H windowsgui -s -w $ldx" -o "$WORK/windows/wardsync-desktop.exe" .
rm -f "$syso"
unset GOOS GOARCH CGO_ENABLED

# gzip, not dpkg's default xz: a third larger, but seconds instead of
# a minute per package on a busy build machine (make test builds them).
installed_size() { du -sk --exclude=DEBIAN "$1" | cut -f1; }

step "wardsync-server_${debv}_amd64.deb"
root="$WORK/deb-server"
install -D -m 0755 "$WORK/linux/wardsync-server" "$root/usr/bin/wardsync-server"
install -D -m 0644 packaging/linux/wardsync-server.service "$root/lib/systemd/system/wardsync-server.service"
install -D -m 0640 packaging/linux/wardsync.env "$root/etc/wardsync/wardsync.env"
install -D -m 0644 docs/install.md "$root/usr/share/doc/wardsync-server/install.md"
install -d -m 0755 "$root/DEBIAN"
install -m 0755 packaging/linux/server-postinst "$root/DEBIAN/postinst"
install -m 0755 packaging/linux/server-prerm "$root/DEBIAN/prerm"
install -m 0755 packaging/linux/server-postrm "$root/DEBIAN/postrm"
echo /etc/wardsync/wardsync.env >"$root/DEBIAN/conffiles"
cat >"$root/DEBIAN/control" <<CONTROL
Package: wardsync-server
Version: $debv
Architecture: amd64
Maintainer: wardsync <it@wardsync.invalid>
Installed-Size: $(installed_size "$root")
Depends: passwd, systemd
Recommends: postgresql (>= 15)
Section: net
Priority: optional
Description: wardsync sync server (commit $COMMIT)
 The central server of wardsync, an offline-first hospital ward workflow:
 it merges the ward workstations' queued acts over websockets into
 PostgreSQL, applying the workflow's rules, and hosts the admin dashboard
 and /metrics. Runs as the wardsync system user under systemd; configure
 /etc/wardsync/wardsync.env, then systemctl start wardsync-server.
CONTROL
dpkg-deb --root-owner-group -Zgzip -z9 --build "$root" "$OUT/wardsync-server_${debv}_amd64.deb" >/dev/null

step "wardsync-desktop_${debv}_amd64.deb"
root="$WORK/deb-desktop"
install -D -m 0755 "$WORK/linux/wardsync-desktop" "$root/usr/bin/wardsync-desktop"
install -D -m 0644 packaging/linux/wardsync.desktop "$root/usr/share/applications/wardsync.desktop"
for n in 48 128 256; do
  mkdir -p "$root/usr/share/icons/hicolor/${n}x${n}/apps"
  "$WORK/wardsync-pack" png -size "$n" -o "$root/usr/share/icons/hicolor/${n}x${n}/apps/wardsync.png"
done
install -d -m 0755 "$root/DEBIAN"
cat >"$root/DEBIAN/control" <<CONTROL
Package: wardsync-desktop
Version: $debv
Architecture: amd64
Maintainer: wardsync <it@wardsync.invalid>
Installed-Size: $(installed_size "$root")
Depends: libwebkit2gtk-4.1-0, libgtk-3-0, libc6
Section: misc
Priority: optional
Description: wardsync ward workstation (commit $COMMIT)
 The desktop app of wardsync: reception, nurses, doctors and the lab work
 on a local replica that keeps working through network outages; queued
 acts are sent to the wardsync server when the link returns.
CONTROL
dpkg-deb --root-owner-group -Zgzip -z9 --build "$root" "$OUT/wardsync-desktop_${debv}_amd64.deb" >/dev/null

step "wardsync-desktop-${VERSION}-x64.msi"
cp "$WORK/windows/wardsync-desktop.exe" "$WORK/msi/"
"$WORK/wardsync-pack" ico -o "$WORK/msi/wardsync.ico"
sed -e "s/@MSI_VERSION@/$msiv/g" -e "s/@VERSION@/$VERSION/g" -e "s/@COMMIT@/$COMMIT/g" \
  packaging/windows/wardsync-desktop.wxs >"$WORK/msi/wardsync-desktop.wxs"
(cd "$WORK/msi" && wixl -a x64 -o wardsync-desktop.msi wardsync-desktop.wxs)
mv "$WORK/msi/wardsync-desktop.msi" "$OUT/wardsync-desktop-${VERSION}-x64.msi"

step "wardsync-station"
cp "$WORK/linux/wardsync-station" "$OUT/wardsync-station-${VERSION}-linux-amd64"
cp "$WORK/windows/wardsync-station.exe" "$OUT/wardsync-station-${VERSION}-windows-amd64.exe"

(cd "$OUT" && sha256sum -- * >SHA256SUMS)
step "done: $OUT/"
ls -l "$OUT" >&2

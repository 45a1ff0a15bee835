#!/usr/bin/env bash
# Builds the Linux packages of the desktop app as releases are built and checks them: the .deb's
# contents (binary, desktop entry, icons), its size (< 15 MB), that it installs with dpkg -i,
# that the installed app starts its daemon (socket answering sekiactl) under Xvfb, and that it
# uninstalls cleanly; the .rpm's contents and size (rpm -qpl, not installed: this is Debian).
# Run after scripts/desktop-test.sh (which installs the build dependencies).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/apt.sh
apt_install deb-test rpm

# With the `updater` feature, as releases are built, so the size limit holds for what ships
# (the updater artifacts and their signatures need the release key, so they are left out here).
echo "deb-test: tauri build --bundles deb,rpm --features updater (release)"
mkdir -p test-output
(cd src-tauri && npx tauri build --bundles deb,rpm --features updater >"$PWD/../test-output/deb-build.log" 2>&1) || {
  tail -40 test-output/deb-build.log
  exit 1
}
DEB="$(ls -t "$CARGO_TARGET_DIR"/release/bundle/deb/*.deb | head -1)"
echo "deb-test: $DEB"
size=$(stat -c %s "$DEB")
echo "deb-test: size $((size / 1024)) KiB"
[ "$size" -lt $((15 * 1024 * 1024)) ] || { echo "deb-test: larger than 15 MB" >&2; exit 1; }

contents="$(dpkg-deb -c "$DEB")"
for want in usr/bin/sekia-desktop usr/share/applications/sekia.desktop \
  usr/share/icons/hicolor/128x128/apps/sekia-desktop.png \
  usr/share/icons/hicolor/32x32/apps/sekia-desktop.png; do
  grep -qE " (\./)?$want\$" <<<"$contents" || { echo "deb-test: $want missing from the package:" >&2; echo "$contents" >&2; exit 1; }
done
echo "deb-test: binary, desktop entry and icons are in the package"

RPM="$(ls -t "$CARGO_TARGET_DIR"/release/bundle/rpm/*.rpm | head -1)"
rpm_size=$(stat -c %s "$RPM")
echo "deb-test: $RPM, $((rpm_size / 1024)) KiB"
[ "$rpm_size" -lt $((15 * 1024 * 1024)) ] || { echo "deb-test: the .rpm is larger than 15 MB" >&2; exit 1; }
rpm_files="$(rpm -qpl "$RPM" 2>/dev/null)"
for want in /usr/bin/sekia-desktop /usr/share/applications/sekia.desktop \
  /usr/share/icons/hicolor/128x128/apps/sekia-desktop.png; do
  grep -qx "$want" <<<"$rpm_files" || { echo "deb-test: $want missing from the .rpm:" >&2; echo "$rpm_files" >&2; exit 1; }
done
echo "deb-test: the .rpm holds the binary, desktop entry and icons"

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo dpkg -i "$DEB" >/dev/null
trap '$sudo dpkg -r sekia >/dev/null 2>&1 || true' EXIT
grep -q "^Exec=sekia-desktop" /usr/share/applications/sekia.desktop
echo "deb-test: installed; launching /usr/bin/sekia-desktop under Xvfb"
sandbox="$(mktemp -d -t sekia-deb.XXXXXX)"
mkdir -p "$sandbox/home" "$sandbox/run"
chmod 700 "$sandbox/run"
cargo build -p sekia-cli --quiet
HOME="$sandbox/home" XDG_RUNTIME_DIR="$sandbox/run" SEKIACTL="$CARGO_TARGET_DIR/debug/sekiactl" \
  timeout 120 xvfb-run -a -s '-screen 0 1280x800x24' dbus-run-session -- bash -c '
    /usr/bin/sekia-desktop >"$HOME/app.log" 2>&1 & APP=$!
    for i in $(seq 100); do "$SEKIACTL" status >/dev/null 2>&1 && break; sleep 0.2; done
    "$SEKIACTL" status || { cat "$HOME/app.log"; exit 1; }
    kill -TERM $APP; wait $APP
    [ ! -e "$XDG_RUNTIME_DIR/sekia/sekiad.sock" ] || { echo "socket left behind"; exit 1; }'
rm -rf "$sandbox"
$sudo dpkg -r sekia >/dev/null
trap - EXIT
[ ! -e /usr/bin/sekia-desktop ] || { echo "deb-test: dpkg -r left the binary" >&2; exit 1; }
echo "deb-test: the installed app ran its daemon, quit cleanly, and uninstalled"

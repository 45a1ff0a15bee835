#!/usr/bin/env bash
# Builds the Linux packages of the desktop app as releases are built and checks them: the .deb's
# contents (binary, desktop entry, icons), its size (< 15 MB), that it installs with dpkg -i,
# that the installed app starts its daemon (socket answering sekiactl) under Xvfb, and that it
# uninstalls cleanly; the .rpm's contents and size (rpm -qpl, not installed: this is Debian).
# Then the updater against real releases: the app is built twice, at its version and at 0.2.0,
# with the release workflow's updater config and a signing key made for this run (the Tauri
# CLI signs each .deb and .rpm as it signs releases), and tests/updater_release.rs updates the
# first to the second over a local feed (and refuses tampered or mislabelled files).
# Run after scripts/desktop-test.sh (which installs the build dependencies).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/apt.sh
apt_install deb-test rpm

RELEASES="$(mktemp -d -t sekia-releases.XXXXXX)"
trap 'rm -rf "$RELEASES"' EXIT
# A key for this run only (no password), as `tauri signer generate` makes the release key.
(cd src-tauri && npx tauri signer generate --ci -p "" -w "$RELEASES/test.key" >/dev/null)
VERSION="$(python3 -c 'import json; print(json.load(open("src-tauri/tauri.conf.json"))["version"])')"
NEWER=0.2.0

# As Linux releases are built: the `updater` feature and tauri.updater.conf.json (updater
# artifacts); the window-only binary (`--no-default-features`: the daemon is in the tray host)
# and the tray host itself (tauri.linux-release.conf.json), so the size limit holds for what
# ships. Arguments: the version, extra tauri.conf.json settings.
build_release() {
  local version="$1" extra="$2"
  echo "deb-test: tauri build --bundles deb,rpm --features updater, signed updater artifacts ($version)"
  # The Linux window is built for size (CARGO_PROFILE_RELEASE_OPT_LEVEL=s, as release.yml does):
  # sekia's work is in the tray host, and the .deb carries both binaries.
  (cd src-tauri && TAURI_SIGNING_PRIVATE_KEY="$(cat "$RELEASES/test.key")" TAURI_SIGNING_PRIVATE_KEY_PASSWORD="" \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=s \
    npx tauri build --bundles deb,rpm --features updater --config tauri.updater.conf.json \
      --config tauri.linux-release.conf.json --config "$extra" -- --no-default-features \
    >"$PWD/../test-output/deb-build-$version.log" 2>&1) || {
    tail -40 "test-output/deb-build-$version.log"
    exit 1
  }
  local bundle="$CARGO_TARGET_DIR/release/bundle"
  for f in "deb/sekia_${version}_amd64.deb" "rpm/sekia-${version}-1.x86_64.rpm"; do
    if [ ! -s "$bundle/$f" ] || [ ! -s "$bundle/$f.sig" ]; then
      echo "deb-test: $f or its .sig was not made" >&2
      exit 1
    fi
    cp "$bundle/$f" "$bundle/$f.sig" "$RELEASES/"
  done
}
mkdir -p test-output
build_release "$VERSION" '{}'
DEB="$RELEASES/sekia_${VERSION}_amd64.deb"
echo "deb-test: $DEB"
size=$(stat -c %s "$DEB")
echo "deb-test: size $((size / 1024)) KiB"
[ "$size" -lt $((15 * 1024 * 1024)) ] || { echo "deb-test: larger than 15 MB" >&2; exit 1; }

contents="$(dpkg-deb -c "$DEB")"
for want in usr/bin/sekia-desktop usr/bin/sekia-tray usr/share/applications/sekia.desktop \
  usr/share/icons/hicolor/128x128/apps/sekia-desktop.png \
  usr/share/icons/hicolor/32x32/apps/sekia-desktop.png; do
  grep -qE " (\./)?$want\$" <<<"$contents" || { echo "deb-test: $want missing from the package:" >&2; echo "$contents" >&2; exit 1; }
done
echo "deb-test: both binaries (window, tray host), desktop entry and icons are in the package"

RPM="$RELEASES/sekia-${VERSION}-1.x86_64.rpm"
rpm_size=$(stat -c %s "$RPM")
echo "deb-test: $RPM, $((rpm_size / 1024)) KiB"
[ "$rpm_size" -lt $((15 * 1024 * 1024)) ] || { echo "deb-test: the .rpm is larger than 15 MB" >&2; exit 1; }
rpm_files="$(rpm -qpl "$RPM" 2>/dev/null)"
for want in /usr/bin/sekia-desktop /usr/bin/sekia-tray /usr/share/applications/sekia.desktop \
  /usr/share/icons/hicolor/128x128/apps/sekia-desktop.png; do
  grep -qx "$want" <<<"$rpm_files" || { echo "deb-test: $want missing from the .rpm:" >&2; echo "$rpm_files" >&2; exit 1; }
done
echo "deb-test: the .rpm holds both binaries, desktop entry and icons"

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo dpkg -i "$DEB" >/dev/null
trap '$sudo dpkg -r sekia >/dev/null 2>&1 || true; rm -rf "$RELEASES"' EXIT
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
    # The daemon is the installed tray host, started by the window.
    TRAY=$(pgrep -n -x sekia-tray) || { echo "no tray host"; cat "$HOME/app.log"; exit 1; }
    [ "$(readlink /proc/$TRAY/exe)" = /usr/bin/sekia-tray ] || { echo "the tray host is not the installed one"; exit 1; }
    kill -TERM $TRAY
    for i in $(seq 100); do [ -e "$XDG_RUNTIME_DIR/sekia/sekiad.sock" ] || break; sleep 0.1; done
    [ ! -e "$XDG_RUNTIME_DIR/sekia/sekiad.sock" ] || { echo "socket left behind"; exit 1; }
    # The window goes with its daemon.
    for i in $(seq 100); do kill -0 $APP 2>/dev/null || break; sleep 0.1; done
    ! kill -0 $APP 2>/dev/null || { echo "the window outlived its daemon"; exit 1; }'
rm -rf "$sandbox"
$sudo dpkg -r sekia >/dev/null
trap 'rm -rf "$RELEASES"' EXIT
[ ! -e /usr/bin/sekia-desktop ] && [ ! -e /usr/bin/sekia-tray ] || { echo "deb-test: dpkg -r left a binary" >&2; exit 1; }
echo "deb-test: the installed app started its tray host's daemon, quit cleanly, and uninstalled"

# The second release, then the updater of the first against both (tests/updater_release.rs).
build_release "$NEWER" "{\"version\":\"$NEWER\"}"
echo "deb-test: the updater of $VERSION against the real $NEWER release (tests/updater_release.rs)"
SEKIA_UPDATER_RELEASES="$RELEASES" cargo test --manifest-path src-tauri/Cargo.toml \
  --features updater,mock-runtime,release-artifacts --test updater_release

#!/usr/bin/env bash
# Keeps the Windows build honest on this Linux machine: clippy (warnings are errors) over every
# crate of the workspace (libraries, binaries and tests) and the desktop app, for
# x86_64-pc-windows-gnu. The named-pipe API, the profile-ACL file handling, the Credential
# Manager store and the Windows signal handling compile and lint here, before the Windows CI
# job (.github/workflows/ci.yml) and the release workflow build them for real. Installs the target and the
# MinGW-w64 C/C++ compilers (SQLite, Luau and ring are C and C++) where missing.
# The desktop app embeds ui/dist: build the UI first (scripts/ui-test.sh or `npm run build` in ui/).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/apt.sh
apt_install windows-check gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64
TARGET=x86_64-pc-windows-gnu
if ! rustup target list --installed | grep -qx "$TARGET"; then
  echo "windows-check: rustup target add $TARGET"
  rustup target add "$TARGET"
fi
export CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc CXX_x86_64_pc_windows_gnu=x86_64-w64-mingw32-g++
echo "windows-check: cargo clippy --workspace --all-targets --target $TARGET (warnings are errors)"
cargo clippy --workspace --all-targets --target "$TARGET" --quiet -- -D warnings
echo "windows-check: the desktop app (src-tauri, release features) for $TARGET"
cargo clippy --manifest-path src-tauri/Cargo.toml --target "$TARGET" --features updater --quiet -- -D warnings

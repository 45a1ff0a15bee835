//! The updater against two real releases of sekia: `scripts/deb-test.sh` builds the app twice
//! with `tauri build --features updater` and the release workflow's updater config, at 0.1.0
//! and at 0.2.0, and the Tauri CLI signs both `.deb`s with a key made for the run (`tauri signer
//! generate`). Here the app at 0.1.0 on the mock runtime (the real plugin, the real
//! `plugins.updater` config trusting that key) asks a feed on 127.0.0.1 that serves those
//! files and their `.sig`s as a release serves them.
//!
//! Needs `SEKIA_UPDATER_RELEASES`: the folder with `test.key.pub` and the two `.deb`s and
//! `.deb.sig`s. Built only with the `release-artifacts` feature, which deb-test passes with the
//! folder; without it this suite does not exist rather than skipping.
#![cfg(target_os = "linux")]

mod feed;

use std::path::{Path, PathBuf};
use std::process::Command;

use feed::{CURRENT, Server, app, assert_invalid_signature, assert_version_mismatch, flipped, run};
use sekia_desktop::updates::UpdateError;
use sekia_desktop::updates::check::{download, updater_for};

const NEWER: &str = "0.2.0";

/// One release as built: the `.deb`'s file name, bytes, and the CLI's `.sig` content.
struct Release {
    file: String,
    bytes: Vec<u8>,
    signature: String,
}

struct Releases {
    dir: PathBuf,
    pubkey: String,
}

impl Releases {
    fn from_env() -> Self {
        let dir = std::env::var_os("SEKIA_UPDATER_RELEASES")
            .map(PathBuf::from)
            .expect(
                "SEKIA_UPDATER_RELEASES: the folder scripts/deb-test.sh builds the releases in",
            );
        let pubkey = std::fs::read_to_string(dir.join("test.key.pub")).unwrap();
        Self {
            dir,
            pubkey: pubkey.trim().to_string(),
        }
    }

    fn release(&self, version: &str) -> Release {
        let file = format!("sekia_{version}_amd64.deb");
        let path = self.dir.join(&file);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let signature = std::fs::read_to_string(self.dir.join(format!("{file}.sig"))).unwrap();
        Release {
            file,
            bytes,
            signature,
        }
    }
}

/// A field of a `.deb`'s control file, read by dpkg-deb from `bytes`.
fn deb_field(bytes: &[u8], field: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("downloaded.deb");
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("dpkg-deb")
        .args(["-f", &path.to_string_lossy(), field])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Asks the feed as "Check for updates" does, and downloads what it offers as "Update to
/// vX.Y.Z" does (the plugin verifies the signature before handing the bytes over).
fn check_and_download(
    releases: &Releases,
    server: &Server,
) -> Option<(tauri_plugin_updater::Update, Result<Vec<u8>, UpdateError>)> {
    let app = app(&releases.pubkey);
    let executable = Path::new("/usr/bin/sekia-desktop");
    run(async {
        let update = updater_for(app.handle(), server.feed_url())
            .unwrap()
            .executable_path(executable)
            .build()
            .unwrap()
            .check()
            .await
            .unwrap()?;
        let bytes = download(&update, |_, _| {}).await;
        Some((update, bytes))
    })
}

#[test]
fn the_real_newer_release_is_found_downloaded_and_verified() {
    let releases = Releases::from_env();
    let server = Server::start();
    let newer = releases.release(NEWER);
    server.publish(NEWER, &newer.file, newer.bytes.clone(), &newer.signature);

    let (update, bytes) =
        check_and_download(&releases, &server).expect("0.2.0 is newer than the app's 0.1.0");
    assert_eq!(update.version, NEWER);
    assert_eq!(update.current_version, CURRENT);
    let bytes = bytes.expect("the CLI's signature of the 0.2.0 build verifies");
    assert_eq!(bytes, newer.bytes);
    // What came down is the second build: the package of 0.2.0, with the app in it.
    assert_eq!(deb_field(&bytes, "Version"), NEWER);
    assert_eq!(deb_field(&bytes, "Package"), "sekia");
}

#[test]
fn a_flipped_byte_in_the_real_release_is_an_invalid_signature() {
    let releases = Releases::from_env();
    let server = Server::start();
    let newer = releases.release(NEWER);
    server.publish(NEWER, &newer.file, flipped(&newer.bytes), &newer.signature);

    let (_, result) = check_and_download(&releases, &server).expect("0.2.0 is announced");
    assert_invalid_signature(&result.expect_err("a tampered .deb must not verify"));
}

#[test]
fn the_real_older_release_announced_as_newer_is_refused() {
    // The genuine 0.1.0 build with its genuine signature, announced as 0.2.0: the version the
    // CLI signed with the file gives it away.
    let releases = Releases::from_env();
    let server = Server::start();
    let older = releases.release(CURRENT);
    server.publish(NEWER, &older.file, older.bytes.clone(), &older.signature);

    let (_, result) = check_and_download(&releases, &server).expect("0.2.0 is announced");
    let err = result.expect_err("the 0.1.0 build is not 0.2.0");
    assert_version_mismatch(&err, CURRENT, NEWER);
}

#[test]
fn a_feed_announcing_the_running_release_changes_nothing() {
    let releases = Releases::from_env();
    let server = Server::start();
    let current = releases.release(CURRENT);
    server.publish(
        CURRENT,
        &current.file,
        current.bytes.clone(),
        &current.signature,
    );

    assert!(check_and_download(&releases, &server).is_none());
    assert!(
        server.requests().iter().all(|p| p == "/linux/latest.json"),
        "{:?}",
        server.requests()
    );
}

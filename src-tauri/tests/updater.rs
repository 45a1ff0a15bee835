//! The updater end to end under Tauri's mock runtime: the real tauri-plugin-updater with the
//! real `plugins.updater` config (only the public key swapped for a key made here, and plain
//! HTTP allowed), asking a release feed served from 127.0.0.1, downloading, verifying and
//! installing. The releases are made here as the release workflow makes them: an AppImage in a
//! .tar.gz, signed with minisign (prehashed) with `version:X.Y.Z` in the trusted comment, as
//! `tauri build` signs them. Needs `--features updater` (scripts/desktop-test.sh passes it).
#![cfg(target_os = "linux")]

mod feed;

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use feed::{
    CURRENT, FEED_PATH, Server, app, assert_invalid_signature, assert_version_mismatch, flipped,
    run,
};
use minisign::KeyPair;
use sekia_desktop::updates::check::{download, updater_for};
use sekia_desktop::updates::{Channel, UpdateError, UpdateStatus, Updates};
use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewWindow, WebviewWindowBuilder};
use tauri_plugin_updater::Error as PluginError;

const NEWER: &str = "0.2.0";

// --- releases --------------------------------------------------------------------------------

/// A minisign key pair, as `tauri signer generate` makes one.
struct SigningKey(KeyPair);

impl SigningKey {
    fn new() -> Self {
        Self(KeyPair::generate_unencrypted_keypair().unwrap())
    }

    /// The public key as tauri.conf.json holds it: the base64 of the `.pub` file.
    fn public(&self) -> String {
        BASE64.encode(self.0.pk.to_box().unwrap().into_string())
    }

    /// A `.sig` file's content as the Tauri CLI writes it (base64 of minisign's signature
    /// file), with `signed_version` in the trusted comment when given.
    fn sign(&self, file_name: &str, data: &[u8], signed_version: Option<&str>) -> String {
        let mut trusted = format!("timestamp:1796500000\tfile:{file_name}");
        if let Some(v) = signed_version {
            trusted.push_str(&format!("\tversion:{v}"));
        }
        let signature = minisign::sign(
            Some(&self.0.pk),
            &self.0.sk,
            Cursor::new(data),
            Some(&trusted),
            Some("signature from tauri secret key"),
        )
        .unwrap();
        BASE64.encode(signature.into_string())
    }
}

/// The Linux updater artifact of sekia at `version`: `sekia_<v>_amd64.AppImage.tar.gz` holding
/// an "AppImage" that says its version (plus some bulk, so the download comes in many chunks).
fn release_artifact(version: &str) -> (String, Vec<u8>) {
    let app_image = format!("sekia_{version}_amd64.AppImage");
    let mut payload = format!("#!/bin/sh\necho sekia {version}\n").into_bytes();
    payload.extend((0..400_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    let mut tarball = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut header = tar::Header::new_gnu();
    header.set_size(payload.len() as u64);
    header.set_mode(0o755);
    header.set_cksum();
    tarball
        .append_data(&mut header, &app_image, payload.as_slice())
        .unwrap();
    let bytes = tarball.into_inner().unwrap().finish().unwrap();
    (format!("{app_image}.tar.gz"), bytes)
}

/// The payload the artifact of `version` installs.
fn installed_payload(version: &str) -> Vec<u8> {
    let (_, tgz) = release_artifact(version);
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tgz.as_slice()));
    let mut entry = archive.entries().unwrap().next().unwrap().unwrap();
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut entry, &mut out).unwrap();
    out
}

/// sekia 0.1.0 as installed: an AppImage in a folder of its own.
struct Installed {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Installed {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sekia.AppImage");
        std::fs::write(&path, installed_payload(CURRENT)).unwrap();
        Self { _dir: dir, path }
    }

    fn content(&self) -> Vec<u8> {
        std::fs::read(&self.path).unwrap()
    }
}

/// Checks `server`'s feed and downloads what it announces, as "Update to vX.Y.Z" does.
fn check_and_download(
    app: &App<MockRuntime>,
    server: &Server,
    installed: &Installed,
) -> (tauri_plugin_updater::Update, Result<Vec<u8>, UpdateError>) {
    run(async {
        let update = updater_for(app.handle(), server.feed_url())
            .unwrap()
            .executable_path(&installed.path)
            .build()
            .unwrap()
            .check()
            .await
            .unwrap()
            .expect("the feed announces a newer version");
        let bytes = download(&update, |_, _| {}).await;
        (update, bytes)
    })
}

// --- tests -------------------------------------------------------------------------------------

#[test]
fn a_newer_release_is_found_downloaded_verified_and_installed() {
    let key = SigningKey::new();
    let app = app(&key.public());
    let server = Server::start();
    let (file, artifact) = release_artifact(NEWER);
    server.publish(
        NEWER,
        &file,
        artifact.clone(),
        &key.sign(&file, &artifact, Some(NEWER)),
    );
    let installed = Installed::new();

    let (update, downloaded, progress) = run(async {
        let update = updater_for(app.handle(), server.feed_url())
            .unwrap()
            .executable_path(&installed.path)
            .build()
            .unwrap()
            .check()
            .await
            .unwrap()
            .expect("0.2.0 is newer than 0.1.0");
        let mut progress = Vec::new();
        let bytes = download(&update, |done, total| progress.push((done, total))).await;
        (update, bytes, progress)
    });
    assert_eq!(update.version, NEWER);
    assert_eq!(update.current_version, CURRENT);
    assert_eq!(update.body.as_deref(), Some("sekia 0.2.0"));
    // `{{target}}` was filled in.
    assert_eq!(server.requests()[0], "/linux/latest.json");
    let bytes = downloaded.expect("a release signed by the trusted key verifies");
    assert_eq!(bytes, artifact);
    // Progress came in steps, up to the size the server announced.
    let total = artifact.len() as u64;
    assert!(progress.len() > 1, "{progress:?}");
    assert!(progress.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(progress.last(), Some(&(total, Some(total))));

    // Installing swaps the AppImage for the new version's.
    assert_eq!(installed.content(), installed_payload(CURRENT));
    update.install(&bytes).unwrap();
    assert_eq!(installed.content(), installed_payload(NEWER));
}

#[test]
fn a_flipped_byte_is_refused_as_an_invalid_signature() {
    let key = SigningKey::new();
    let app = app(&key.public());
    let server = Server::start();
    let (file, artifact) = release_artifact(NEWER);
    let signature = key.sign(&file, &artifact, Some(NEWER));
    server.publish(NEWER, &file, flipped(&artifact), &signature);
    let installed = Installed::new();

    let (_, result) = check_and_download(&app, &server, &installed);
    let err = result.expect_err("a tampered download must not verify");
    assert_invalid_signature(&err);
    assert!(err.to_string().contains("nothing was installed"), "{err}");
    assert_eq!(installed.content(), installed_payload(CURRENT));
}

#[test]
fn an_older_release_announced_as_newer_is_refused() {
    // A tampered feed pairs the version 0.2.0 with a genuine, validly signed older release
    // (0.1.5), to roll users back to it: the version signed with the file gives it away.
    let key = SigningKey::new();
    let app = app(&key.public());
    let server = Server::start();
    let (file, older) = release_artifact("0.1.5");
    server.publish(
        NEWER,
        &file,
        older.clone(),
        &key.sign(&file, &older, Some("0.1.5")),
    );
    let installed = Installed::new();

    let (_, result) = check_and_download(&app, &server, &installed);
    let err = result.expect_err("a release signed for 0.1.5 is not 0.2.0");
    assert_version_mismatch(&err, "0.1.5", NEWER);
    assert_eq!(installed.content(), installed_payload(CURRENT));
}

#[test]
fn a_signature_without_a_version_or_from_another_key_is_refused() {
    let key = SigningKey::new();
    let app = app(&key.public());
    let server = Server::start();
    let (file, artifact) = release_artifact(NEWER);
    let installed = Installed::new();

    // Signed without the version (`tauri signer sign` without --app-version): the config's
    // `requireSignedVersion` refuses it, or any old release could be passed off as new.
    server.publish(
        NEWER,
        &file,
        artifact.clone(),
        &key.sign(&file, &artifact, None),
    );
    let (_, result) = check_and_download(&app, &server, &installed);
    let err = result.expect_err("an unversioned signature");
    assert!(
        matches!(
            err,
            UpdateError::Rejected(PluginError::MissingSignedVersion)
        ),
        "{err:?}"
    );

    // Signed properly, by a key the app does not trust.
    let stranger = SigningKey::new();
    server.publish(
        NEWER,
        &file,
        artifact.clone(),
        &stranger.sign(&file, &artifact, Some(NEWER)),
    );
    let (_, result) = check_and_download(&app, &server, &installed);
    let err = result.expect_err("another key's signature");
    assert!(
        matches!(
            err,
            UpdateError::Rejected(PluginError::Minisign(
                minisign_verify::Error::UnexpectedKeyId
            ))
        ),
        "{err:?}"
    );
    assert_eq!(installed.content(), installed_payload(CURRENT));
}

/// `Updates` (what the app manages) asking `server`'s feed, with its settings in `dir`.
fn updates(server: &Server, dir: &Path) -> Updates {
    Updates::new(
        Some(dir.join("updates.json")),
        Some(server.url(FEED_PATH)),
        Instant::now(),
    )
}

#[test]
fn a_feed_without_a_newer_version_changes_nothing() {
    let key = SigningKey::new();
    let app = app(&key.public());
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let updates = updates(&server, dir.path());
    let installed = Installed::new();

    for announced in [CURRENT, "0.0.9"] {
        let (file, artifact) = release_artifact(announced);
        server.publish(
            announced,
            &file,
            artifact.clone(),
            &key.sign(&file, &artifact, Some(announced)),
        );
        // The plugin: nothing to update to.
        let found = run(async {
            updater_for(app.handle(), server.feed_url())
                .unwrap()
                .executable_path(&installed.path)
                .build()
                .unwrap()
                .check()
                .await
                .unwrap()
        });
        assert!(found.is_none(), "{announced} offered over {CURRENT}");
        // The app: up to date, nothing to install.
        let status = run(updates.check_now(app.handle())).unwrap();
        assert!(
            matches!(
                status,
                UpdateStatus::UpToDate {
                    checked_at: Some(_),
                    error: None
                }
            ),
            "{status:?}"
        );
        assert!(matches!(
            run(updates.download_pending()),
            Err(UpdateError::NothingToInstall)
        ));
    }
    // Only the feed was asked; nothing was downloaded, nothing installed, no settings written.
    assert!(
        server.requests().iter().all(|p| p == "/linux/latest.json"),
        "{:?}",
        server.requests()
    );
    assert_eq!(installed.content(), installed_payload(CURRENT));
    assert!(!dir.path().join("updates.json").exists());
}

#[test]
fn the_app_offers_a_found_release_and_shows_the_download() {
    let key = SigningKey::new();
    let app = app(&key.public());
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let updates = updates(&server, dir.path());
    let (file, artifact) = release_artifact(NEWER);
    let signature = key.sign(&file, &artifact, Some(NEWER));

    // Tampered first: the offer stays, with the reason it was not installed.
    let mut tampered = artifact.clone();
    tampered[100] ^= 0x80;
    server.publish(NEWER, &file, tampered, &signature);
    let found = run(updates.check_now(app.handle())).unwrap();
    assert_eq!(
        found,
        UpdateStatus::Available {
            version: NEWER.into(),
            notes: Some("sekia 0.2.0".into()),
            error: None
        }
    );
    // Found, not fetched: the user chooses when.
    assert!(
        !server
            .requests()
            .iter()
            .any(|p| p.starts_with("/download/"))
    );
    let Err(err) = run(updates.download_pending()) else {
        panic!("a tampered download verified");
    };
    assert!(matches!(err, UpdateError::Rejected(_)), "{err:?}");
    let UpdateStatus::Available {
        error: Some(why), ..
    } = updates.status()
    else {
        panic!("{:?}", updates.status());
    };
    assert!(why.contains("refused"), "{why}");

    // The genuine file: the status walks through the download, percent by percent.
    server.publish(NEWER, &file, artifact.clone(), &signature);
    let mut statuses = updates.subscribe();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorder = Arc::clone(&seen);
    tauri::async_runtime::spawn(async move {
        while statuses.changed().await.is_ok() {
            let status = statuses.borrow_and_update().clone();
            recorder.lock().unwrap().push(status);
        }
    });
    let (update, bytes) = run(updates.download_pending()).unwrap();
    assert_eq!(update.version, NEWER);
    assert_eq!(bytes, artifact);
    // Let the recorder catch up with the last change (100%).
    let total = artifact.len() as u64;
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    while !seen
        .lock()
        .unwrap()
        .iter()
        .any(|s| matches!(s, UpdateStatus::Downloading { downloaded, .. } if *downloaded == total))
    {
        assert!(Instant::now() < deadline, "{:?}", seen.lock().unwrap());
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let seen = seen.lock().unwrap().clone();
    let downloads: Vec<_> = seen
        .iter()
        .filter_map(|s| match s {
            UpdateStatus::Downloading {
                downloaded, total, ..
            } => Some((*downloaded, *total)),
            _ => None,
        })
        .collect();
    // The window and the tray see the newest status (a watch channel), so steps may be
    // skipped, but each one they see is further along, and never more than one per percent.
    assert!(downloads.len() > 2, "{seen:?}");
    assert!(
        downloads.windows(2).all(|w| w[0].0 < w[1].0),
        "{downloads:?}"
    );
    assert!(
        downloads.len() <= 102,
        "one status per percent at most: {}",
        downloads.len()
    );
    assert_eq!(downloads.last().map(|d| d.1), Some(Some(total)));

    // Downloaded, about to be installed: no check or second download meanwhile.
    assert!(matches!(
        run(updates.check_now(app.handle())),
        Err(UpdateError::Busy)
    ));
    assert!(matches!(
        run(updates.download_pending()),
        Err(UpdateError::Busy)
    ));

    // Switching the channel forgets what the old channel offered.
    let updates = self::updates(&server, dir.path());
    let again = run(updates.check_now(app.handle())).unwrap();
    assert!(matches!(again, UpdateStatus::Available { .. }));
    updates.set_settings(Channel::Beta, true).unwrap();
    assert!(matches!(updates.status(), UpdateStatus::UpToDate { .. }));
    assert!(matches!(
        run(updates.download_pending()),
        Err(UpdateError::NothingToInstall)
    ));
    assert!(dir.path().join("updates.json").exists());
}

fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    get_ipc_response(
        window,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<Value>().unwrap())
}

#[test]
fn the_window_reaches_the_update_commands_and_no_other_window_does() {
    let key = SigningKey::new();
    let app = app(&key.public());
    let server = Server::start();
    let (file, artifact) = release_artifact(CURRENT);
    server.publish(
        CURRENT,
        &file,
        artifact.clone(),
        &key.sign(&file, &artifact, Some(CURRENT)),
    );
    let dir = tempfile::tempdir().unwrap();
    app.manage(updates(&server, dir.path()));
    let window = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();

    // What the Settings page loads, checks, saves and installs, as the UI's backend calls it.
    let info = invoke(&window, "updates", json!({})).unwrap();
    assert_eq!(
        info["status"],
        json!({"state": "up_to_date", "checked_at": null, "error": null})
    );
    assert_eq!(info["current_version"], CURRENT);
    assert_eq!(info["channel"], "stable");
    assert_eq!(info["check_automatically"], true);
    assert_eq!(info["feed"], server.url(FEED_PATH));
    let checked = invoke(&window, "check_for_updates", json!({})).unwrap();
    assert_eq!(checked["status"]["state"], "up_to_date");
    assert!(
        checked["status"]["checked_at"].as_u64().is_some(),
        "{checked}"
    );
    let saved = invoke(
        &window,
        "set_update_settings",
        json!({"channel": "beta", "checkAutomatically": false}),
    )
    .unwrap();
    assert_eq!(saved["channel"], "beta");
    assert_eq!(saved["check_automatically"], false);
    let file = std::fs::read_to_string(dir.path().join("updates.json")).unwrap();
    assert!(file.contains("\"check_automatically\": false"), "{file}");
    let err = invoke(&window, "install_update", json!({})).unwrap_err();
    assert!(
        err.as_str().unwrap().contains("no update to install"),
        "{err}"
    );

    let other = WebviewWindowBuilder::new(&app, "other", Default::default())
        .build()
        .unwrap();
    for cmd in [
        "updates",
        "check_for_updates",
        "install_update",
        "set_update_settings",
    ] {
        let err = invoke(&other, cmd, json!({})).unwrap_err();
        assert!(
            err.as_str().unwrap().contains("not allowed"),
            "{cmd}: {err}"
        );
    }
}

#[test]
fn the_shipped_config_trusts_the_project_key_and_requires_signed_versions() {
    let config: Value = serde_json::from_str(include_str!("../tauri.conf.json")).unwrap();
    let updater = &config["plugins"]["updater"];
    let pubkey = BASE64.decode(updater["pubkey"].as_str().unwrap()).unwrap();
    let pubkey = String::from_utf8(pubkey).unwrap();
    assert!(
        pubkey.starts_with("untrusted comment: minisign public key"),
        "{pubkey}"
    );
    minisign_verify::PublicKey::decode(&pubkey).expect("a minisign public key");
    assert_eq!(updater["requireSignedVersion"], json!(true));
    // Nothing that weakens it ships: no plain HTTP, no certificate exceptions, no downgrades.
    for key in [
        "dangerousInsecureTransportProtocol",
        "dangerousAcceptInvalidCerts",
        "dangerousAcceptInvalidHostnames",
        "allowDowngrades",
    ] {
        assert!(updater.get(key).is_none(), "{key} is set");
    }
}

#[test]
fn no_private_signing_key_is_in_the_package() {
    // The Tauri CLI's private keys are the base64 of minisign's secret key file, whose first
    // line is an untrusted comment naming an rsign secret key. (The words are put together at
    // run time, so this file does not match itself.)
    let plain = ["rsign", "encrypted", "secret", "key"].join(" ");
    let encoded = BASE64.encode(format!("untrusted comment: {plain}"));
    let marker = &encoded[..40];
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stack = vec![root.to_path_buf()];
    let mut checked = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy();
            if path.is_dir() {
                if !["target", "node_modules", "gen", ".git"].contains(&name.as_ref()) {
                    stack.push(path);
                }
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                checked += 1;
                assert!(
                    !text.contains(marker),
                    "{} holds a private key",
                    path.display()
                );
                assert!(
                    !text.contains(&plain),
                    "{} holds a private key",
                    path.display()
                );
            }
        }
    }
    assert!(checked > 10);
}

//! `ENC[...]` values end to end: key generation, encryption and decryption through sekiactl, and
//! sekiad decrypting its config — or refusing with the key named and the secret unprinted.

// They drive sekiad over its Unix socket in temporary folders (Windows serves a named pipe).
#![cfg(unix)]

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use common::*;

const PLAINTEXT: &str = "s3cret-Command-Key-0042";

fn keygen(sb: &Sandbox, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["secrets", "keygen"];
    args.extend_from_slice(extra);
    sb.sekiactl(&args)
}

#[test]
fn keygen_encrypt_decrypt_round_trip_and_permissions() {
    let sb = Sandbox::new();
    let out = keygen(&sb, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let key = sb.home().join(".config/sekia/age.key");
    let public = stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("Public key: ").map(String::from))
        .unwrap();
    assert!(public.starts_with("age1"));
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(key.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    let text = std::fs::read_to_string(&key).unwrap();
    assert!(text.contains(&format!("# public key: {public}")));

    // Refuses to overwrite, unless forced.
    let again = keygen(&sb, &[]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    assert_eq!(std::fs::read_to_string(&key).unwrap(), text);

    // Encrypt from stdin (the value stays out of argv), decrypt with the default key.
    let enc = sb.sekiactl_stdin(&["secrets", "encrypt"], Some(&format!("{PLAINTEXT}\n")));
    assert!(enc.status.success(), "{}", stderr(&enc));
    let sealed = stdout(&enc).trim().to_string();
    assert!(
        sealed.starts_with("ENC[") && sealed.ends_with(']'),
        "{sealed}"
    );
    assert!(!sealed.contains(PLAINTEXT));
    let dec = sb.sekiactl(&["secrets", "decrypt", &sealed]);
    assert!(dec.status.success(), "{}", stderr(&dec));
    assert_eq!(stdout(&dec).trim_end_matches('\n'), PLAINTEXT);

    // Encrypt to an explicit recipient, as a value argument.
    let to = sb.sekiactl(&["secrets", "encrypt", "other", "--recipient", &public]);
    assert!(to.status.success());
    assert_eq!(
        stdout(&sb.sekiactl(&["secrets", "decrypt", stdout(&to).trim()])).trim(),
        "other"
    );

    let forced = keygen(&sb, &["--force"]);
    assert!(forced.status.success());
    assert_ne!(std::fs::read_to_string(&key).unwrap(), text);
    let stale = sb.sekiactl(&["secrets", "decrypt", &sealed]);
    assert!(
        !stale.status.success(),
        "a replaced key cannot read old values"
    );
    assert!(!stderr(&stale).contains(PLAINTEXT));
}

#[test]
fn sekiad_decrypts_enc_values_and_never_logs_them() {
    let mut sb = Sandbox::new();
    let key = sb.path().join("keys/age.key");
    assert!(keygen(&sb, &["-o", key.to_str().unwrap()]).status.success());
    sb.set("SEKIA_AGE_KEY_FILE", key.display().to_string());
    let sealed = stdout(&sb.sekiactl(&["secrets", "encrypt", PLAINTEXT]))
        .trim()
        .to_string();
    std::fs::write(
        sb.path().join("sekia.toml"),
        format!("[security]\ncommand_secret = \"{sealed}\"\n[nats]\ntoken = \"{sealed}\"\n"),
    )
    .unwrap();

    let mut daemon = sb.spawn_sekiad(&[]);
    sb.wait_ready(&mut daemon);
    let (status, log) = terminate(daemon);
    assert!(status.success(), "{log}");
    assert!(
        !log.contains("command_secret is empty"),
        "the decrypted secret is in use: {log}"
    );
    assert!(
        !log.contains(PLAINTEXT),
        "the secret reached the log: {log}"
    );

    // The wrong key: refused, the key named, nothing secret printed.
    let other = sb.path().join("keys/other.key");
    assert!(
        keygen(&sb, &["-o", other.to_str().unwrap()])
            .status
            .success()
    );
    sb.set("SEKIA_AGE_KEY_FILE", other.display().to_string());
    let out = sb.run_sekiad(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("config key `"), "{err}");
    assert!(err.contains("wrong age key"), "{err}");
    assert!(!err.contains(PLAINTEXT));

    // A corrupt value names its key too.
    std::fs::write(
        sb.path().join("sekia.toml"),
        "[ai]\napi_key = \"ENC[bm90IGFnZQ==]\"\n",
    )
    .unwrap();
    let err = stderr(&sb.run_sekiad(&[]));
    assert!(err.contains("config key `ai.api_key`"), "{err}");
}

#[test]
fn enc_without_identity_and_aws_values_are_clear_errors() {
    let sb = Sandbox::new();
    std::fs::write(
        sb.path().join("sekia.toml"),
        "[security]\ncommand_secret = \"ENC[YWJj]\"\n",
    )
    .unwrap();
    let err = stderr(&sb.run_sekiad(&[]));
    assert!(
        err.contains("config key `security.command_secret`"),
        "{err}"
    );
    assert!(err.contains("no age identity is configured"), "{err}");

    std::fs::write(
        sb.path().join("sekia.toml"),
        "[ai]\napi_key = \"KMS[AQID]\"\n",
    )
    .unwrap();
    let err = stderr(&sb.run_sekiad(&[]));
    assert!(
        err.contains("config key `ai.api_key`") && err.contains("not supported"),
        "{err}"
    );

    let out = sb.sekiactl(&["secrets", "kms-encrypt", "x"]);
    assert!(!out.status.success() && stderr(&out).contains("not supported"));
}

#[test]
fn socket_folder_of_another_user_is_refused() {
    let mut sb = Sandbox::new();
    let dir = sb.path().join("theirs");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    // Hand the folder to `nobody` (tests run as root in CI; as another user chown fails and
    // the folder is already foreign to root-owned paths below).
    let owned_by_other = std::process::Command::new("chown")
        .arg("65534")
        .arg(&dir)
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        owned_by_other,
        "chown needs root; the test suite runs as root"
    );
    assert_eq!(std::fs::metadata(&dir).unwrap().uid(), 65534);
    sb.set(
        "SEKIA_SERVER_SOCKET",
        dir.join("sekiad.sock").display().to_string(),
    );
    let out = sb.run_sekiad(&[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("belongs to another user"),
        "{}",
        stderr(&out)
    );
}

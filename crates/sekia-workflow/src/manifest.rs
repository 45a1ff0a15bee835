//! The integrity manifest `workflows.sha256` (sha256sum text format:
//! `<64 hex>␣␣<file name>`), its verification and its generation
//! (`sekiactl workflows sign`).
//!
//! It is a hash list, not a signature: it protects against edits by something
//! that cannot also rewrite the manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::ManifestError;

/// File name of the manifest inside the workflow directory.
pub const MANIFEST_FILE: &str = "workflows.sha256";

/// Parsed manifest: file name → lowercase hex SHA-256.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Entries by base file name.
    pub entries: BTreeMap<String, String>,
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn hash_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Manifest {
    /// Parses manifest text (blank and `#` lines skipped; any bad line fails the
    /// whole manifest).
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        let mut entries = BTreeMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: &str| ManifestError::Format {
                line: i + 1,
                reason: reason.to_owned(),
            };
            let (hash, name) = line
                .split_once("  ")
                .ok_or_else(|| bad("expected `<sha256>  <file name>`"))?;
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad("hash is not 64 hex characters"));
            }
            let name = name.trim();
            if name.is_empty() {
                return Err(bad("missing file name"));
            }
            entries.insert(name.to_owned(), hash.to_ascii_lowercase());
        }
        Ok(Self { entries })
    }

    /// Reads `<dir>/workflows.sha256`.
    pub fn load(dir: &Path) -> Result<Self, ManifestError> {
        Self::load_file(&dir.join(MANIFEST_FILE))
    }

    /// Reads a manifest file.
    pub fn load_file(path: &Path) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Checks `bytes` (the exact buffer that will be loaded) against the entry for
    /// `name`. The error text is meant for the operator.
    pub fn verify(&self, name: &str, bytes: &[u8]) -> Result<(), String> {
        let want = self
            .entries
            .get(name)
            .ok_or_else(|| format!("{name} is not listed in {MANIFEST_FILE}"))?;
        let got = hash_bytes(bytes);
        if &got != want {
            return Err(format!(
                "{name}: SHA-256 {got} does not match {want} in {MANIFEST_FILE}"
            ));
        }
        Ok(())
    }

    /// The manifest text (sorted, one line per file).
    pub fn render(&self) -> String {
        self.entries
            .iter()
            .map(|(name, hash)| format!("{hash}  {name}\n"))
            .collect()
    }
}

/// The `*.lua` files directly in `dir`, sorted.
pub fn lua_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "lua"))
        .collect();
    files.sort();
    Ok(files)
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ManifestError {
    let path = path.to_path_buf();
    move |source| ManifestError::Io { path, source }
}

/// Writes a manifest through a temporary file and a rename, so that a watcher
/// never sees half of it.
fn write_manifest(dir: &Path, file_name: &str, m: &Manifest) -> Result<(), ManifestError> {
    let out = dir.join(file_name);
    let tmp = dir.join(format!(".{file_name}.tmp"));
    std::fs::write(&tmp, m.render()).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, &out).map_err(io_err(&out))
}

/// Hashes every `*.lua` in `dir` and writes `<dir>/workflows.sha256`
/// (`sekiactl workflows sign`). Returns the manifest written.
pub fn sign(dir: &Path) -> Result<Manifest, ManifestError> {
    let mut m = Manifest::default();
    for file in lua_files(dir).map_err(io_err(dir))? {
        let bytes = std::fs::read(&file).map_err(io_err(&file))?;
        if let Some(name) = file.file_name() {
            m.entries
                .insert(name.to_string_lossy().into_owned(), hash_bytes(&bytes));
        }
    }
    write_manifest(dir, MANIFEST_FILE, &m)?;
    Ok(m)
}

/// Hashes every `<skills_dir>/<skill>/handler.lua` and writes
/// `<skills_dir>/skills.sha256` (entries `<skill>/handler.lua`), the manifest
/// skill handlers are checked against when `verify_integrity` is on.
pub fn sign_skills(skills_dir: &Path) -> Result<Manifest, ManifestError> {
    let mut m = Manifest::default();
    let entries = std::fs::read_dir(skills_dir).map_err(io_err(skills_dir))?;
    for e in entries.filter_map(Result::ok) {
        let handler = e.path().join("handler.lua");
        if handler.is_file() {
            let bytes = std::fs::read(&handler).map_err(io_err(&handler))?;
            m.entries.insert(
                format!("{}/handler.lua", e.file_name().to_string_lossy()),
                hash_bytes(&bytes),
            );
        }
    }
    write_manifest(skills_dir, crate::engine::SKILLS_MANIFEST_FILE, &m)?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parse_cases() {
        let m = Manifest::parse(&format!("# comment\n\n{}  a.lua\n", H.to_uppercase())).unwrap();
        assert_eq!(m.entries.get("a.lua").map(String::as_str), Some(H));
        assert!(Manifest::parse("abc  a.lua").is_err());
        assert!(Manifest::parse(&format!("{H} a.lua")).is_err());
        assert!(Manifest::parse(&format!("{}  a.lua", "g".repeat(64))).is_err());
        assert!(Manifest::parse(&format!("{H} *a.lua")).is_err());
        assert!(Manifest::parse("").unwrap().entries.is_empty());
    }

    #[test]
    fn verify_cases() {
        let m = Manifest::parse(&format!("{H}  a.lua")).unwrap();
        assert!(m.verify("a.lua", b"").is_ok());
        assert!(
            m.verify("a.lua", b"x")
                .unwrap_err()
                .contains("does not match")
        );
        assert!(m.verify("b.lua", b"").unwrap_err().contains("not listed"));
        assert_eq!(hash_bytes(b""), H);
    }

    #[test]
    fn sign_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.lua"), "x").unwrap();
        std::fs::write(dir.path().join("a.lua"), "").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "").unwrap();
        let m = sign(dir.path()).unwrap();
        assert_eq!(m.entries.len(), 2);
        let text = std::fs::read_to_string(dir.path().join(MANIFEST_FILE)).unwrap();
        assert!(text.starts_with(&format!("{H}  a.lua\n")));
        assert_eq!(Manifest::load(dir.path()).unwrap(), m);
        assert!(Manifest::load(&dir.path().join("missing")).is_err());
    }
}

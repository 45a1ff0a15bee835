//! The tray host's log: `sekia-tray.log` in the desktop app's log folder (the same folder as the
//! window's `sekia.log`), 1 MiB a file with the five newest kept, the folder 0700 and the files
//! 0600 — it names workflows, agents and errors. The daemon's lines also go to the Logs page's
//! ring ([`sekia_daemon::RecentLogs`]).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

const FILE_BYTES: usize = 1024 * 1024;
const FILES_KEPT: usize = 5;

/// `$XDG_DATA_HOME/ai.sekia.desktop/logs` (Tauri's `app_log_dir` on Linux).
pub fn log_dir() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(data.join(crate::APP_IDENTIFIER).join("logs"))
}

#[derive(Clone)]
struct Shared(Arc<Mutex<FileRotate<AppendCount>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).flush()
    }
}

impl<'a> MakeWriter<'a> for Shared {
    type Writer = Shared;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Installs the process's tracing subscriber: the log file (when its folder can be made) and
/// the Logs page's ring. Problems with the file are reported on stderr, and logging goes on
/// without it.
pub fn init() {
    let file = log_dir().and_then(|dir| match open(&dir) {
        Ok(f) => Some(f),
        Err(e) => {
            eprintln!("sekia-tray: no log file in {}: {e}", dir.display());
            None
        }
    });
    let file_layer = file.map(|f| {
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(f)
    });
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::INFO)
        .with(file_layer)
        .with(sekia_daemon::RecentLogs);
    let _ = tracing::subscriber::set_global_default(subscriber);
}

fn open(dir: &std::path::Path) -> std::io::Result<Shared> {
    fs::create_dir_all(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    let mut options = OpenOptions::new();
    options.read(true).create(true).append(true).mode(0o600);
    let rotate = FileRotate::new(
        dir.join("sekia-tray.log"),
        AppendCount::new(FILES_KEPT),
        ContentLimit::BytesSurpassed(FILE_BYTES),
        Compression::None,
        Some(options),
    );
    Ok(Shared(Arc::new(Mutex::new(rotate))))
}

//! Shared bits of the `sekiad` and `sekiactl` binaries: logging set-up and table output.

pub mod events;
pub mod output;

/// Logs to stderr. `SEKIA_LOG` (or `RUST_LOG`) filters, default `info`.
pub fn init_logging(level: Option<&str>) {
    let filter = level
        .map(String::from)
        .or_else(|| std::env::var("SEKIA_LOG").ok())
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

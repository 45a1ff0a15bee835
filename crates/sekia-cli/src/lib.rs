//! Shared bits of the `sekiad` and `sekiactl` binaries: logging set-up and table output.

pub mod accounts;
pub mod events;
pub mod output;

/// Logs to stderr, and keeps the recent lines for the UI's Logs page. `SEKIA_LOG` (or
/// `RUST_LOG`) filters, default `info`.
pub fn init_logging(level: Option<&str>) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = level
        .map(String::from)
        .or_else(|| std::env::var("SEKIA_LOG").ok())
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".into());
    let _ = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| "info".into()))
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false),
        )
        .with(sekia_daemon::RecentLogs)
        .try_init();
}

//! `sekiad`: the headless daemon. Runs in the foreground until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use sekia_daemon::SystemClock;
use sekia_daemon::config::{self, LoadOptions};
use sekia_server::Sekiad;

#[derive(Parser)]
#[command(
    name = "sekiad",
    version,
    about = "sekia daemon: event bus, workflows and connectors"
)]
struct Args {
    /// Config file (default: sekia.toml in /etc/sekia, ~/.config/sekia or .)
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Log filter (error, warn, info, debug, trace); SEKIA_LOG also works.
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    sekia_cli::init_logging(args.log_level.as_deref());
    let loaded = match config::load(&LoadOptions::from_process(args.config)) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("sekiad: {e}");
            return ExitCode::from(2);
        }
    };
    match &loaded.source {
        Some(path) => tracing::info!(config = %path.display(), "config loaded"),
        None => tracing::info!("no config file found; running on defaults"),
    }
    for key in &loaded.overridden {
        tracing::info!("config key {key}");
    }
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sekiad: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let sekiad = match Sekiad::start(loaded.config, Arc::new(SystemClock)).await {
            Ok(s) => s,
            Err(e @ sekia_server::StartError::Web(_)) => {
                eprintln!("sekiad: {e}");
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("sekiad: {e}");
                return ExitCode::FAILURE;
            }
        };
        eprintln!(
            "sekiad is running; API socket {} (Ctrl+C to stop)",
            sekiad.socket().display()
        );
        if let Some(addr) = sekiad.dashboard() {
            eprintln!("dashboard: http://{addr}/");
        }
        wait_for_signal().await;
        tracing::info!("shutting down");
        sekiad.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// SIGTERM or SIGINT (Ctrl+C) on Unix; Ctrl+C (or Ctrl+Break) on Windows.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

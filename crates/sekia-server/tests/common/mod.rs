//! A real daemon for the server tests: history and workflows in `dir`, no hot reload, no skills,
//! on a manual clock.

use std::path::Path;
use std::sync::Arc;

use sekia_daemon::{Config, Daemon, ManualClock};

pub async fn daemon(dir: &Path) -> Daemon {
    let mut config = Config::default();
    config.store.path = dir.join("sekia.db");
    config.workflows.dir = dir.join("workflows");
    config.workflows.hot_reload = false;
    config.skills.dir = Default::default();
    Daemon::start(config, Arc::new(ManualClock::new(1_700_000_000)))
        .await
        .unwrap()
}

//! `sekia-tray`: the desktop app's tray and daemon, without the window (see `hosted`).

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    sekia_tray::hosted::run()
}

#[cfg(not(target_os = "linux"))]
fn main() -> std::process::ExitCode {
    eprintln!("sekia-tray runs on Linux; elsewhere the desktop app holds the tray itself");
    std::process::ExitCode::FAILURE
}

//! `sekia-tray`: the desktop app's tray and daemon, without the window (see `hosted`).

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    if std::env::args().any(|a| a == sekia_tray::SOCKET_ARG) {
        return sekia_tray::hosted::print_socket();
    }
    sekia_tray::hosted::run()
}

#[cfg(not(target_os = "linux"))]
fn main() -> std::process::ExitCode {
    eprintln!("sekia-tray runs on Linux; elsewhere the desktop app holds the tray itself");
    std::process::ExitCode::FAILURE
}

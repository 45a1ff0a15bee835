fn main() {
    // Declaring the app's commands makes them subject to the capability files: a window can
    // call only the commands its capability allows (`allow-<command>`).
    let commands = tauri_build::AppManifest::new().commands(&[
        "rpc",
        "autostart",
        "set_autostart",
        "updates",
        "check_for_updates",
        "install_update",
        "set_update_settings",
    ]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(commands))
        .expect("tauri-build failed");
}

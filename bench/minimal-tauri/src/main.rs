//! The baseline: one window with a static page and a tray icon, nothing else. Closing the
//! window keeps the app in the tray, as sekia does, so "window closed" is measured alike.

use tauri::RunEvent;
use tauri::image::Image;
use tauri::tray::TrayIconBuilder;

fn main() {
    let app = tauri::Builder::default()
        .setup(|app| {
            TrayIconBuilder::with_id("minimal")
                .icon(Image::from_bytes(include_bytes!(
                    "../../../icons/tray-64.png"
                ))?)
                .build(app)?;
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("building the minimal app");
    app.run(|_, event| {
        if let RunEvent::ExitRequested {
            code: None, api, ..
        } = event
        {
            api.prevent_exit();
        }
    });
}

//! The tray icon and its menu. Linux (appindicator) delivers no clicks on the icon itself, so
//! every action is a menu item.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use tauri::image::Image;
use tauri::menu::{CheckMenuItem, IsMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_autostart::ManagerExt;
use tauri_plugin_opener::OpenerExt;

use sekia_tray::panel::{self, Panel};
use sekia_tray::summary::{Look, PAUSE_TEXT, RESUME_TEXT, summary, toggle_pause};

use crate::host::DaemonHost;

pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let host = app.state::<DaemonHost>().inner().clone();
    let status = MenuItem::with_id(app, "status", "sekia: starting…", false, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open sekia", true, None::<&str>)?;
    let pause = MenuItem::with_id(
        app,
        "pause",
        PAUSE_TEXT,
        host.workflows_dir().is_some(),
        None::<&str>,
    )?;
    let folder = MenuItem::with_id(
        app,
        "workflows",
        "Open workflows folder",
        host.workflows_dir().is_some(),
        None::<&str>,
    )?;
    let at_login = CheckMenuItem::with_id(
        app,
        "autostart",
        "Start at login",
        true,
        app.autolaunch().is_enabled().unwrap_or(false),
        None::<&str>,
    )?;
    let quit_item = MenuItem::with_id(app, "quit", "Quit sekia", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let separator_2 = PredefinedMenuItem::separator(app)?;
    let mut items: Vec<&dyn IsMenuItem<R>> = vec![
        &status as &dyn IsMenuItem<R>,
        &separator,
        &open,
        &pause,
        &folder,
        &at_login,
    ];
    #[cfg(feature = "updater")]
    let updates = crate::updates::desktop::TrayItems::new(app)?;
    #[cfg(feature = "updater")]
    items.push(&updates.check);
    items.extend([&separator_2 as &dyn IsMenuItem<R>, &quit_item]);
    let menu = Menu::with_items(app, &items)?;
    let pause_item = pause.clone();
    let refresh = Arc::new(Notify::new());
    let refresh_on_toggle = Arc::clone(&refresh);
    // The panel's brightness, followed as the desktop's colour scheme changes.
    let panel = Arc::new(Mutex::new(Panel::Dark));
    let (panel_now, refresh_on_panel) = (Arc::clone(&panel), Arc::clone(&refresh));
    tauri::async_runtime::spawn(panel::follow(move |p| {
        *panel_now.lock().unwrap_or_else(|e| e.into_inner()) = p;
        refresh_on_panel.notify_one();
    }));
    let tray = TrayIconBuilder::with_id("sekia")
        .icon(Image::from_bytes(Look::Ok.png(Panel::Dark))?)
        .icon_as_template(Look::Ok.is_template())
        .tooltip("sekia")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(move |app, event| match event.id().as_ref() {
            "open" => crate::window::show_main(app),
            "pause" => toggle_pause_item(app, &pause_item, &refresh_on_toggle),
            "autostart" => set_autostart(app, &at_login),
            "workflows" => open_workflows_folder(app),
            "quit" => quit(app),
            #[cfg(feature = "updater")]
            id => {
                crate::updates::desktop::on_menu_click(app, id);
            }
            #[cfg(not(feature = "updater"))]
            _ => {}
        })
        .build(app)?;
    // "Update to vX.Y.Z", when there is one, comes first after the status line.
    #[cfg(feature = "updater")]
    updates.follow(app, menu.clone(), 2);
    keep_status_fresh(host, status, pause, tray, refresh, panel);
    Ok(())
}

/// The check mark has already flipped when this runs; make the login item match it.
fn set_autostart<R: Runtime>(app: &AppHandle<R>, item: &CheckMenuItem<R>) {
    let want = item.is_checked().unwrap_or(false);
    let autolaunch = app.autolaunch();
    let result = if want {
        autolaunch.enable()
    } else {
        autolaunch.disable()
    };
    if let Err(e) = result {
        log::warn!("cannot change start at login: {e}");
    }
    let _ = item.set_checked(autolaunch.is_enabled().unwrap_or(false));
}

fn open_workflows_folder<R: Runtime>(app: &AppHandle<R>) {
    let Some(dir) = app.state::<DaemonHost>().workflows_dir().cloned() else {
        return;
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        log::warn!("cannot create {}: {e}", dir.display());
        return;
    }
    if let Err(e) = app.opener().open_path(dir.to_string_lossy(), None::<&str>) {
        log::warn!("cannot open {}: {e}", dir.display());
    }
}

/// Stops the daemon cleanly (its socket is removed), then exits.
pub fn quit<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    // A signal can come before the daemon is handed to the app: then there is nothing to stop.
    let host = app.try_state::<DaemonHost>().map(|h| h.inner().clone());
    tauri::async_runtime::spawn(async move {
        if let Some(host) = host {
            host.shutdown().await;
        }
        app.exit(0);
    });
}

/// Pauses or resumes every workflow through the daemon, then refreshes the menu and icon.
fn toggle_pause_item<R: Runtime>(app: &AppHandle<R>, item: &MenuItem<R>, refresh: &Arc<Notify>) {
    let host = app.state::<DaemonHost>().inner().clone();
    let item = item.clone();
    let refresh = Arc::clone(refresh);
    tauri::async_runtime::spawn(async move {
        match toggle_pause(&host).await {
            Ok(paused) => {
                let _ = item.set_text(if paused { RESUME_TEXT } else { PAUSE_TEXT });
            }
            Err(e) => log::warn!("cannot pause workflows: {e}"),
        }
        refresh.notify_one();
    });
}

fn keep_status_fresh<R: Runtime>(
    host: DaemonHost,
    status: MenuItem<R>,
    pause: MenuItem<R>,
    tray: TrayIcon<R>,
    refresh: Arc<Notify>,
    panel: Arc<Mutex<Panel>>,
) {
    tauri::async_runtime::spawn(async move {
        let mut shown = None;
        let mut wakeups = host.watch();
        loop {
            let now = summary(&host).await;
            let on = *panel.lock().unwrap_or_else(|e| e.into_inner());
            if shown != Some((now.look, on))
                && let Ok(icon) = Image::from_bytes(now.look.png(on))
            {
                shown = Some((now.look, on));
                let _ = tray.set_icon(Some(icon));
                let _ = tray.set_icon_as_template(now.look.is_template());
            }
            let _ = pause.set_text(now.pause_text());
            let _ = status.set_text(&now.line);
            let _ = tray.set_tooltip(Some(&now.line));
            tokio::select! {
                _ = refresh.notified() => {}
                alive = wakeups.next() => if !alive { break },
            }
        }
    });
}

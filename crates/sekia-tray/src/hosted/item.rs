//! The tray icon and its menu as a StatusNotifierItem with a D-Bus menu (ksni, no GTK): what a
//! Linux panel shows and clicks. Linux panels deliver the user's choice as a menu event, so
//! every action is a menu item; each one only hands an [`Action`] to the host's loop.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use ksni::menu::{CheckmarkItem, StandardItem};
use ksni::{Icon, MenuItem, ToolTip};
use tokio::sync::mpsc::UnboundedSender;

use crate::panel::Panel;
use crate::summary::{Look, Summary};

/// What a menu item asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Open,
    TogglePause,
    OpenWorkflowsFolder,
    ToggleStartAtLogin,
    CheckForUpdates,
    InstallUpdate,
    Quit,
}

/// The tray's state: what the menu and the icon show.
pub struct StatusItem {
    pub summary: Summary,
    pub panel: Panel,
    pub start_at_login: bool,
    pub has_workflows: bool,
    /// A newer release, from the last update check.
    pub update: Option<String>,
    /// Whether this build updates itself (a development build does not).
    pub updates_supported: bool,
    pub actions: UnboundedSender<Action>,
}

impl StatusItem {
    fn item(&self, label: &str, enabled: bool, action: Action) -> MenuItem<Self> {
        StandardItem {
            label: label.into(),
            enabled,
            activate: Box::new(move |this: &mut Self| {
                let _ = this.actions.send(action);
            }),
            ..Default::default()
        }
        .into()
    }
}

impl ksni::Tray for StatusItem {
    // A click on the icon opens the menu, as on panels that only ever show the menu.
    const MENU_ON_ACTIVATE: bool = true;

    fn id(&self) -> String {
        "sekia".into()
    }

    fn title(&self) -> String {
        "sekia".into()
    }

    fn status(&self) -> ksni::Status {
        match self.summary.look {
            Look::Attention | Look::Error => ksni::Status::NeedsAttention,
            Look::Ok | Look::Paused => ksni::Status::Active,
        }
    }

    fn icon_pixmap(&self) -> Vec<Icon> {
        pixmap(self.summary.look, self.panel).into_iter().collect()
    }

    // Panels that show the attention icon while NeedsAttention get the same picture.
    fn attention_icon_pixmap(&self) -> Vec<Icon> {
        self.icon_pixmap()
    }

    fn tool_tip(&self) -> ToolTip {
        ToolTip {
            title: self.summary.line.clone(),
            ..Default::default()
        }
    }

    fn menu(&self) -> Vec<MenuItem<Self>> {
        let mut menu = vec![
            StandardItem {
                label: self.summary.line.clone(),
                enabled: false,
                ..Default::default()
            }
            .into(),
        ];
        if let Some(version) = &self.update {
            menu.push(self.item(
                &format!("Update to v{version}…"),
                true,
                Action::InstallUpdate,
            ));
        }
        menu.extend([
            MenuItem::Separator,
            self.item("Open sekia", true, Action::Open),
            self.item(
                self.summary.pause_text(),
                self.has_workflows,
                Action::TogglePause,
            ),
            self.item(
                "Open workflows folder",
                self.has_workflows,
                Action::OpenWorkflowsFolder,
            ),
            CheckmarkItem {
                label: "Start at login".into(),
                checked: self.start_at_login,
                activate: Box::new(|this: &mut Self| {
                    let _ = this.actions.send(Action::ToggleStartAtLogin);
                }),
                ..Default::default()
            }
            .into(),
        ]);
        if self.updates_supported {
            menu.push(self.item("Check for updates", true, Action::CheckForUpdates));
        }
        menu.extend([
            MenuItem::Separator,
            self.item("Quit sekia", true, Action::Quit),
        ]);
        menu
    }
}

/// The icon as the StatusNotifierItem protocol carries it: ARGB32, network byte order, decoded
/// once per look and panel.
fn pixmap(look: Look, panel: Panel) -> Option<Icon> {
    type Decoded = HashMap<(Look, Panel), Option<Icon>>;
    static DECODED: OnceLock<Mutex<Decoded>> = OnceLock::new();
    let mut cache = DECODED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    cache
        .entry((look, panel))
        .or_insert_with(|| decode(look.png(panel)))
        .clone()
}

fn decode(png_bytes: &[u8]) -> Option<Icon> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().ok()?;
    let mut rgba = vec![0; reader.output_buffer_size()?];
    let info = reader.next_frame(&mut rgba).ok()?;
    if info.color_type != png::ColorType::Rgba {
        return None;
    }
    rgba.truncate(info.buffer_size());
    for pixel in rgba.chunks_exact_mut(4) {
        pixel.rotate_right(1);
    }
    Some(Icon {
        width: i32::try_from(info.width).ok()?,
        height: i32::try_from(info.height).ok()?,
        data: rgba,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mark_decodes_to_argb_of_its_size() {
        for look in [Look::Ok, Look::Attention, Look::Paused, Look::Error] {
            for panel in [Panel::Light, Panel::Dark] {
                let icon = pixmap(look, panel).expect("decodes");
                assert_eq!((icon.width, icon.height), (64, 64));
                assert_eq!(icon.data.len(), 64 * 64 * 4);
            }
        }
    }
}

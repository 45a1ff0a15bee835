//! Whether the tray icon sits on a light or a dark panel, so the tray draws the variant that
//! reads there (`icons/tray-light.svg` and `tray-paused-light.svg` for light panels; the
//! white-on-dark marks otherwise; the attention and error colours read on both).
//!
//! - Linux: the desktop's colour scheme from the XDG settings portal
//!   (`org.freedesktop.appearance` `color-scheme`: 1 prefers dark, 2 prefers light), followed as
//!   it changes through the portal's `SettingChanged` signal — a waiting task, no polling.
//!   Without a portal or a preference: dark (GNOME's top bar is dark in both schemes, and so
//!   are most panels).
//! - Windows: the taskbar's `SystemUsesLightTheme`, read at start.
//! - macOS: the ok and paused marks are drawn as templates that the menu bar tints itself.

/// The panel's brightness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Panel {
    Light,
    Dark,
}

impl Panel {
    /// From the portal's `color-scheme` value.
    #[cfg(any(target_os = "linux", test))]
    pub fn from_color_scheme(value: u32) -> Self {
        if value == 2 {
            Panel::Light
        } else {
            Panel::Dark
        }
    }
}

/// Follows the panel: `on_change` is called with the panel once it is known (when it is not
/// [`Panel::Dark`], the starting guess) and whenever it changes. Spawn it: it runs as long as
/// there is something to follow, waiting on the portal's signal, never polling — and nothing is
/// asked before the caller goes on, so a D-Bus round trip (or a portal being activated) does not
/// delay the app's start.
pub async fn follow(on_change: impl Fn(Panel) + Send + 'static) {
    imp::follow(on_change).await;
}

#[cfg(target_os = "linux")]
mod imp {
    use futures::StreamExt;
    use zbus::zvariant::{OwnedValue, Value};
    use zbus::{Connection, Proxy};

    use super::Panel;

    const NAMESPACE: &str = "org.freedesktop.appearance";
    const KEY: &str = "color-scheme";

    async fn settings(connection: &Connection) -> zbus::Result<Proxy<'static>> {
        Proxy::new(
            connection,
            "org.freedesktop.portal.Desktop",
            "/org/freedesktop/portal/desktop",
            "org.freedesktop.portal.Settings",
        )
        .await
    }

    /// `ReadOne` (portal version 2), else the older `Read`, which wraps the value once more.
    async fn read(proxy: &Proxy<'_>) -> Option<u32> {
        let value: OwnedValue = match proxy.call("ReadOne", &(NAMESPACE, KEY)).await {
            Ok(v) => v,
            Err(_) => proxy.call("Read", &(NAMESPACE, KEY)).await.ok()?,
        };
        number(&value)
    }

    fn number(value: &Value<'_>) -> Option<u32> {
        match value {
            Value::U32(n) => Some(*n),
            Value::Value(inner) => number(inner),
            _ => None,
        }
    }

    pub async fn follow(on_change: impl Fn(Panel)) {
        let Ok(connection) = Connection::session().await else {
            return;
        };
        let Ok(proxy) = settings(&connection).await else {
            return;
        };
        // Subscribed before the first read, so a change in between is not missed.
        let Ok(mut signals) = proxy.receive_signal("SettingChanged").await else {
            return;
        };
        let mut shown = read(&proxy)
            .await
            .map_or(Panel::Dark, Panel::from_color_scheme);
        if shown != Panel::Dark {
            on_change(shown);
        }
        while let Some(message) = signals.next().await {
            let Ok((namespace, key, value)) =
                message.body().deserialize::<(String, String, OwnedValue)>()
            else {
                continue;
            };
            if namespace != NAMESPACE || key != KEY {
                continue;
            }
            let panel = number(&value).map_or(Panel::Dark, Panel::from_color_scheme);
            if panel != shown {
                shown = panel;
                on_change(panel);
            }
        }
    }
}

#[cfg(windows)]
mod imp {
    use windows_sys::Win32::System::Registry::{HKEY_CURRENT_USER, RRF_RT_REG_DWORD, RegGetValueW};

    use super::Panel;

    pub async fn follow(on_change: impl Fn(Panel)) {
        let wide = |s: &str| s.encode_utf16().chain([0]).collect::<Vec<u16>>();
        let key = wide(r"Software\Microsoft\Windows\CurrentVersion\Themes\Personalize");
        let value = wide("SystemUsesLightTheme");
        let mut data: u32 = 0;
        let mut size = std::mem::size_of::<u32>() as u32;
        // SAFETY: NUL-terminated names; `data` and `size` describe a DWORD buffer.
        let status = unsafe {
            RegGetValueW(
                HKEY_CURRENT_USER,
                key.as_ptr(),
                value.as_ptr(),
                RRF_RT_REG_DWORD,
                std::ptr::null_mut(),
                (&raw mut data).cast(),
                &mut size,
            )
        };
        if status == 0 && data == 1 {
            on_change(Panel::Light);
        }
    }
}

#[cfg(not(any(target_os = "linux", windows)))]
mod imp {
    use super::Panel;

    pub async fn follow(_on_change: impl Fn(Panel)) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_preference_for_light_means_a_light_panel() {
        assert_eq!(Panel::from_color_scheme(2), Panel::Light);
        assert_eq!(Panel::from_color_scheme(1), Panel::Dark);
        assert_eq!(Panel::from_color_scheme(0), Panel::Dark);
    }
}

//! How WebKitGTK paints the window on Linux.
//!
//! By default WebKit composites the page with OpenGL. On a machine without a GPU (a VM, a
//! remote desktop, Xvfb) Mesa's OpenGL is llvmpipe: an emulation that compiles every shader
//! with LLVM and rasterises on the CPU. Going through it costs the page's web process about
//! 50 MiB more than WebKit's own software painting of the same page (measured: 196 against 114
//! MiB PSS for sekia's Overview), and CPU on every frame, for nothing a dashboard needs. So
//! where there is no GPU render node, sekia asks WebKit to paint in software, through WebKit's
//! documented `WEBKIT_DISABLE_COMPOSITING_MODE`. With a GPU, WebKit's default stays. A value the
//! user set for the variable always wins, either way.

use std::path::Path;

/// WebKitGTK's switch to paint without accelerated compositing.
pub const NO_COMPOSITING: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";

/// Where the kernel lists GPUs' render nodes (`renderD128`, …).
const DRI_DIR: &str = "/dev/dri";

/// Chooses software painting when OpenGL would be a CPU emulation, and says what was chosen
/// (for the log, which is not set up yet). Must run before any thread starts: it sets an
/// environment variable, which WebKit's processes inherit.
pub fn choose() -> &'static str {
    if std::env::var_os(NO_COMPOSITING).is_some() {
        return "as set in WEBKIT_DISABLE_COMPOSITING_MODE";
    }
    let forced_software = std::env::var("LIBGL_ALWAYS_SOFTWARE").ok();
    if has_gpu(Path::new(DRI_DIR), forced_software.as_deref()) {
        return "WebKit's default (a GPU render node is present)";
    }
    // SAFETY: called first thing in `run`, while this process has a single thread, so no other
    // thread reads the environment concurrently.
    unsafe { std::env::set_var(NO_COMPOSITING, "1") };
    "in software (no GPU: OpenGL would be emulated on the CPU)"
}

/// Whether OpenGL would run on a GPU: a render node exists and Mesa is not told to use its
/// software renderer (`LIBGL_ALWAYS_SOFTWARE`, read as Mesa reads a boolean).
fn has_gpu(dri: &Path, forced_software: Option<&str>) -> bool {
    let forced = forced_software.is_some_and(|v| {
        ["1", "true", "y", "yes"]
            .iter()
            .any(|yes| v.eq_ignore_ascii_case(yes))
    });
    !forced && has_render_node(dri)
}

fn has_render_node(dri: &Path) -> bool {
    std::fs::read_dir(dri).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gpu_is_a_render_node_that_mesa_is_allowed_to_use() {
        let dri = tempfile::tempdir().unwrap();
        // No render node (a card node alone is a display, not a GPU that renders).
        std::fs::write(dri.path().join("card0"), b"").unwrap();
        assert!(!has_gpu(dri.path(), None));
        std::fs::write(dri.path().join("renderD128"), b"").unwrap();
        assert!(has_gpu(dri.path(), None));
        assert!(has_gpu(dri.path(), Some("0")));
        assert!(has_gpu(dri.path(), Some("false")));
        assert!(!has_gpu(dri.path(), Some("1")));
        assert!(!has_gpu(dri.path(), Some("TRUE")));
        assert!(has_gpu(dri.path(), Some("")));
        assert!(!has_gpu(&dri.path().join("missing"), None));
    }
}

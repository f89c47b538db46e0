//! The Windows desktop: the screen captured with xcap, windows found and brought to
//! the front with winsafe (safe Win32 calls: the workspace forbids `unsafe`), the
//! reply typed as on every platform ([`Typing`]: arboard and enigo's `SendInput`).
//! `make check-windows` type-checks it for Windows; it has not run on Windows (the
//! build machines have none): docs/desktop-agent.md, "Platforms".

use std::time::{Duration, Instant};

use enigo::Key;
use image::RgbImage;
use winsafe::{self as w, co};
use xcap::Monitor;

use super::typing::Typing;
use super::{Desktop, DesktopError};
use crate::unread::Region;

/// How long the window may take to come to the front.
const FOCUS_WAIT: Duration = Duration::from_millis(1500);

pub struct WindowsDesktop {
    typing: Typing,
}

/// The first visible top-level window whose title contains `title`.
fn find(title: &str) -> Option<w::HWND> {
    let mut found = None;
    // Enumeration stops at the first match; that "failure" of EnumWindows is ours.
    let _ = w::EnumWindows(|window: w::HWND| {
        if window.IsWindowVisible() && window.GetWindowText().is_ok_and(|t| t.contains(title)) {
            found = Some(window);
            return false;
        }
        true
    });
    found
}

/// Whether the foreground window is one whose title contains `title`.
fn focused(title: &str) -> bool {
    w::HWND::GetForegroundWindow()
        .and_then(|window| window.GetWindowText().ok())
        .is_some_and(|t| t.contains(title))
}

impl WindowsDesktop {
    pub fn connect() -> anyhow::Result<Self> {
        Ok(Self {
            typing: Typing::new()?,
        })
    }
}

impl Desktop for WindowsDesktop {
    /// The region on the monitor holding its top-left corner, clipped to that monitor.
    fn capture(&mut self, region: Region) -> Result<RgbImage, DesktopError> {
        let (x, y) = (region.x as i32, region.y as i32);
        let monitor = Monitor::from_point(x, y).map_err(DesktopError::failed)?;
        let (left, top) = (
            monitor.x().map_err(DesktopError::failed)?,
            monitor.y().map_err(DesktopError::failed)?,
        );
        let (width, height) = (
            monitor.width().map_err(DesktopError::failed)?,
            monitor.height().map_err(DesktopError::failed)?,
        );
        let local = Region {
            x: (x - left) as u32,
            y: (y - top) as u32,
            ..region
        }
        .clip(width, height)
        .ok_or_else(|| DesktopError::failed(format!("the region {region} is off the screen")))?;
        let pixels = monitor
            .capture_region(local.x, local.y, local.width, local.height)
            .map_err(DesktopError::failed)?;
        Ok(image::DynamicImage::ImageRgba8(pixels).into_rgb8())
    }

    fn window_exists(&mut self, title: &str) -> Result<bool, DesktopError> {
        Ok(find(title).is_some())
    }

    fn type_reply(&mut self, title: &str, text: &str) -> Result<(), DesktopError> {
        let window = find(title).ok_or_else(|| DesktopError::WindowNotFound(title.into()))?;
        if window.IsIconic() {
            window.ShowWindow(co::SW::RESTORE);
        }
        // Windows lets a background process take the foreground only right after a
        // key press of its own; a lone Alt is the customary one (it opens no menu when
        // released with the focus moving away).
        self.typing.tap(Key::Alt)?;
        window.SetForegroundWindow();
        let _ = window.BringWindowToTop();
        let deadline = Instant::now() + FOCUS_WAIT;
        while !focused(title) {
            if Instant::now() >= deadline {
                return Err(DesktopError::FocusRefused(title.into()));
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        self.typing.paste_and_send(title, text, || focused(title))
    }
}

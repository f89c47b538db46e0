//! What the agent needs of the seller's desktop: the pixels of a screen region, and a
//! reply typed into one chat window. Everything else in the agent is platform-free; a
//! platform's implementation of [`Desktop`] is all that differs between Windows and
//! Linux (docs/desktop-agent.md, "Platforms").

#[cfg(all(feature = "desktop", not(any(target_os = "linux", windows))))]
compile_error!("the desktop feature supports Linux (X11) and Windows");

#[cfg(feature = "desktop")]
mod typing;
#[cfg(all(feature = "desktop", windows))]
mod windows;
#[cfg(all(feature = "desktop", target_os = "linux"))]
mod x11;

use image::RgbImage;

use crate::unread::Region;

#[cfg(all(feature = "desktop", windows))]
pub use windows::WindowsDesktop as PlatformDesktop;
#[cfg(all(feature = "desktop", target_os = "linux"))]
pub use x11::X11Desktop as PlatformDesktop;

#[derive(Debug, thiserror::Error)]
pub enum DesktopError {
    /// No window's title contains the shop's `qianniu_title`; nothing was typed.
    #[error("no window titled like \"{0}\"")]
    WindowNotFound(String),
    /// The window could not be brought to the front; nothing was typed.
    #[error("the window \"{0}\" did not take the focus")]
    FocusRefused(String),
    /// The window lost the focus while the reply was being put in; it may hold part of
    /// the reply.
    #[error("the window \"{0}\" lost the focus while the reply was typed")]
    FocusLost(String),
    #[error("{0}")]
    Failed(String),
}

impl DesktopError {
    /// Any other failure of the platform's calls, by its message.
    #[cfg(feature = "desktop")]
    fn failed(error: impl std::fmt::Display) -> Self {
        Self::Failed(error.to_string())
    }

    /// True when nothing reached the chat, so typing the reply again is safe.
    pub fn nothing_typed(&self) -> bool {
        matches!(self, Self::WindowNotFound(_) | Self::FocusRefused(_))
    }
}

pub trait Desktop: Send {
    /// The screen's pixels in `region` (clipped to the screen).
    fn capture(&mut self, region: Region) -> Result<RgbImage, DesktopError>;

    /// Whether a window whose title contains `title` is open.
    fn window_exists(&mut self, title: &str) -> Result<bool, DesktopError>;

    /// Brings the window whose title contains `title` to the front, puts `text` in its
    /// input (by the clipboard: simulated key presses garble CJK in chat clients) and
    /// presses Enter. It must never type into another window: an implementation checks
    /// the focused window's title before pasting and again before Enter.
    fn type_reply(&mut self, title: &str, text: &str) -> Result<(), DesktopError>;
}

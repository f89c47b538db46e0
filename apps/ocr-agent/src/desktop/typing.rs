//! Typing a reply, the same on every platform: by the clipboard (arboard), because
//! simulated key presses garble CJK text in chat clients, then Ctrl+V and Enter as key
//! presses (enigo). The caller says how to check that the chat window still has the
//! focus; it is checked before the paste and again before Enter.

use std::time::Duration;

use enigo::{Direction, Enigo, Key, Keyboard, Settings};

use super::DesktopError;

/// How long the chat client may take to take in the paste, and the Enter.
const SETTLE: Duration = Duration::from_millis(150);

pub struct Typing {
    clipboard: arboard::Clipboard,
    keys: Enigo,
}

impl Typing {
    pub fn new() -> anyhow::Result<Self> {
        let clipboard = arboard::Clipboard::new()
            .map_err(|e| anyhow::anyhow!("cannot use the clipboard: {e}"))?;
        let keys = Enigo::new(&Settings::default())
            .map_err(|e| anyhow::anyhow!("cannot simulate key presses: {e}"))?;
        Ok(Self { clipboard, keys })
    }

    /// One key press and release.
    pub fn tap(&mut self, key: Key) -> Result<(), DesktopError> {
        self.keys
            .key(key, Direction::Click)
            .map_err(DesktopError::failed)
    }

    /// Pastes `text` into the focused window of `title` and presses Enter; the seller's
    /// own clipboard text is put back afterwards.
    pub fn paste_and_send(
        &mut self,
        title: &str,
        text: &str,
        focused: impl Fn() -> bool,
    ) -> Result<(), DesktopError> {
        let saved = self.clipboard.get_text().ok();
        self.clipboard
            .set_text(text)
            .map_err(DesktopError::failed)?;
        if !focused() {
            return Err(DesktopError::FocusRefused(title.into()));
        }
        let paste = [
            (Key::Control, Direction::Press),
            (Key::Unicode('v'), Direction::Click),
            (Key::Control, Direction::Release),
        ];
        for (key, direction) in paste {
            self.keys
                .key(key, direction)
                .map_err(DesktopError::failed)?;
        }
        std::thread::sleep(SETTLE);
        if !focused() {
            return Err(DesktopError::FocusLost(title.into()));
        }
        self.tap(Key::Return)?;
        std::thread::sleep(SETTLE);
        if let Some(saved) = saved {
            let _ = self.clipboard.set_text(saved);
        }
        Ok(())
    }
}

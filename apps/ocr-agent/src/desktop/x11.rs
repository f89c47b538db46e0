//! The Linux desktop (X11): the screen and windows through the X protocol in pure Rust
//! (x11rb), the reply typed as on every platform ([`Typing`]: arboard, and enigo over
//! XTEST). Capture reads the root window's pixels directly rather than through a
//! screen-capture crate: those pull PipeWire, Wayland and GBM system libraries for what
//! one `GetImage` request does on X11.

use std::time::{Duration, Instant};

use image::RgbImage;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    Atom, AtomEnum, ClientMessageEvent, ConfigureWindowAux, ConnectionExt as _, EventMask,
    ImageFormat, ImageOrder, InputFocus, MapState, StackMode, Window,
};
use x11rb::rust_connection::RustConnection;

use super::typing::Typing;
use super::{Desktop, DesktopError};
use crate::unread::Region;

/// How long the window may take to come to the front.
const FOCUS_WAIT: Duration = Duration::from_millis(1500);

pub struct X11Desktop {
    display: Display,
    typing: Typing,
}

/// The X server's side: the screen and its windows.
struct Display {
    conn: RustConnection,
    root: Window,
    size: (u32, u32),
    atoms: Atoms,
}

struct Atoms {
    client_list: Atom,
    active_window: Atom,
    wm_name: Atom,
    utf8_string: Atom,
}

impl X11Desktop {
    /// Connects to the display in `DISPLAY`.
    pub fn connect() -> anyhow::Result<Self> {
        let (conn, screen) = x11rb::connect(None)
            .map_err(|e| anyhow::anyhow!("cannot reach the X display (DISPLAY): {e}"))?;
        let root_screen = &conn.setup().roots[screen];
        let (root, size) = (
            root_screen.root,
            (
                u32::from(root_screen.width_in_pixels),
                u32::from(root_screen.height_in_pixels),
            ),
        );
        let atom = |name: &[u8]| -> anyhow::Result<Atom> {
            Ok(conn.intern_atom(false, name)?.reply()?.atom)
        };
        let atoms = Atoms {
            client_list: atom(b"_NET_CLIENT_LIST")?,
            active_window: atom(b"_NET_ACTIVE_WINDOW")?,
            wm_name: atom(b"_NET_WM_NAME")?,
            utf8_string: atom(b"UTF8_STRING")?,
        };
        Ok(Self {
            display: Display {
                conn,
                root,
                size,
                atoms,
            },
            typing: Typing::new()?,
        })
    }
}

impl Display {
    fn title(&self, window: Window) -> Option<String> {
        let utf8 = self
            .conn
            .get_property(
                false,
                window,
                self.atoms.wm_name,
                self.atoms.utf8_string,
                0,
                1024,
            )
            .ok()?
            .reply()
            .ok()?;
        if !utf8.value.is_empty() {
            return Some(String::from_utf8_lossy(&utf8.value).into_owned());
        }
        let legacy = self
            .conn
            .get_property(false, window, AtomEnum::WM_NAME, AtomEnum::STRING, 0, 1024)
            .ok()?
            .reply()
            .ok()?;
        // WM_NAME as STRING is Latin-1.
        (!legacy.value.is_empty()).then(|| legacy.value.iter().map(|b| char::from(*b)).collect())
    }

    fn viewable(&self, window: Window) -> bool {
        self.conn
            .get_window_attributes(window)
            .ok()
            .and_then(|c| c.reply().ok())
            .is_some_and(|a| a.map_state == MapState::VIEWABLE)
    }

    /// The windows that may be chat windows: the window manager's client list, or,
    /// without a window manager, every window down to three levels under the root.
    fn candidates(&self) -> Vec<Window> {
        let listed = self
            .conn
            .get_property(
                false,
                self.root,
                self.atoms.client_list,
                AtomEnum::WINDOW,
                0,
                4096,
            )
            .ok()
            .and_then(|c| c.reply().ok())
            .and_then(|r| r.value32().map(Iterator::collect::<Vec<_>>))
            .unwrap_or_default();
        if !listed.is_empty() {
            return listed;
        }
        let mut found = Vec::new();
        let mut level = vec![self.root];
        for _ in 0..3 {
            let mut next = Vec::new();
            for window in level {
                if let Some(tree) = self
                    .conn
                    .query_tree(window)
                    .ok()
                    .and_then(|c| c.reply().ok())
                {
                    next.extend(tree.children);
                }
            }
            found.extend(&next);
            level = next;
        }
        found
    }

    fn find(&self, title: &str) -> Option<Window> {
        self.candidates()
            .into_iter()
            .find(|w| self.title(*w).is_some_and(|t| t.contains(title)) && self.viewable(*w))
    }

    /// Whether the keyboard focus is on `window` or inside it, and it still has the
    /// title.
    fn focused(&self, window: Window, title: &str) -> bool {
        let Some(mut current) = self
            .conn
            .get_input_focus()
            .ok()
            .and_then(|c| c.reply().ok())
            .map(|f| f.focus)
        else {
            return false;
        };
        while current != x11rb::NONE && current != self.root {
            if current == window {
                return self.title(window).is_some_and(|t| t.contains(title));
            }
            match self
                .conn
                .query_tree(current)
                .ok()
                .and_then(|c| c.reply().ok())
            {
                Some(tree) => current = tree.parent,
                None => return false,
            }
        }
        false
    }

    /// Asks the window manager (if any) to activate the window, and gives it the
    /// focus and the top of the stack directly (without one); then waits for it.
    fn bring_to_front(&self, window: Window, title: &str) -> Result<(), DesktopError> {
        let activate = ClientMessageEvent::new(
            32,
            window,
            self.atoms.active_window,
            [1, x11rb::CURRENT_TIME, 0, 0, 0],
        );
        let mask = EventMask::SUBSTRUCTURE_REDIRECT | EventMask::SUBSTRUCTURE_NOTIFY;
        self.conn
            .send_event(false, self.root, mask, activate)
            .map_err(DesktopError::failed)?;
        let top = ConfigureWindowAux::new().stack_mode(StackMode::ABOVE);
        self.conn
            .configure_window(window, &top)
            .map_err(DesktopError::failed)?;
        self.conn
            .set_input_focus(InputFocus::PARENT, window, x11rb::CURRENT_TIME)
            .map_err(DesktopError::failed)?;
        self.conn.flush().map_err(DesktopError::failed)?;
        let deadline = Instant::now() + FOCUS_WAIT;
        while Instant::now() < deadline {
            if self.focused(window, title) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        Err(DesktopError::FocusRefused(title.into()))
    }
}

impl Desktop for X11Desktop {
    fn capture(&mut self, region: Region) -> Result<RgbImage, DesktopError> {
        let display = &self.display;
        let r = region.clip(display.size.0, display.size.1).ok_or_else(|| {
            DesktopError::failed(format!("the region {region} is off the screen"))
        })?;
        let (x, y) = (r.x as i16, r.y as i16);
        let image = display
            .conn
            .get_image(
                ImageFormat::Z_PIXMAP,
                display.root,
                x,
                y,
                r.width as u16,
                r.height as u16,
                !0,
            )
            .map_err(DesktopError::failed)?
            .reply()
            .map_err(DesktopError::failed)?;
        let setup = display.conn.setup();
        let bits = setup
            .pixmap_formats
            .iter()
            .find(|f| f.depth == image.depth)
            .map(|f| f.bits_per_pixel);
        if bits != Some(32) || !(24..=32).contains(&image.depth) {
            return Err(DesktopError::failed(format!(
                "screen depth {} ({bits:?} bits per pixel) is not supported: use 24-bit colour",
                image.depth
            )));
        }
        let lsb_first = setup.image_byte_order == ImageOrder::LSB_FIRST;
        let pixels = image
            .data
            .chunks_exact(4)
            .flat_map(|p| {
                if lsb_first {
                    [p[2], p[1], p[0]]
                } else {
                    [p[1], p[2], p[3]]
                }
            })
            .collect();
        RgbImage::from_raw(r.width, r.height, pixels)
            .ok_or_else(|| DesktopError::failed("short screen image"))
    }

    fn window_exists(&mut self, title: &str) -> Result<bool, DesktopError> {
        Ok(self.display.find(title).is_some())
    }

    fn type_reply(&mut self, title: &str, text: &str) -> Result<(), DesktopError> {
        let display = &self.display;
        let window = display
            .find(title)
            .ok_or_else(|| DesktopError::WindowNotFound(title.into()))?;
        display.bring_to_front(window, title)?;
        self.typing
            .paste_and_send(title, text, || display.focused(window, title))
    }
}

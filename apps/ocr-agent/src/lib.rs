//! The desktop agent `shopops-agent` (docs/desktop-agent.md): it watches the seller's
//! chat window for unread buyer messages, reads them off the screen with OCR, posts them
//! to the ShopOps server, and types the replies the server approves back into the chat.
//!
//! Everything here but the [`desktop::Desktop`] implementations is platform-free and
//! talks to the server only through its public API (`client`).

pub mod agent;
pub mod client;
pub mod config;
pub mod desktop;
pub mod extract;
pub mod frame;
pub mod journal;
pub mod ocr;
pub mod unread;

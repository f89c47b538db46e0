//! The agent's loop (docs/desktop-agent.md, "What it does"). Each turn:
//! 1. refreshes the shops' settings from the server when due;
//! 2. for each shop, captures its region; when the unread badge's share reaches the
//!    shop's threshold and the frame differs from the last one read, OCRs it, picks out
//!    the buyer's messages and queues each new one on disk;
//! 3. posts the queue in order, each message under an `Idempotency-Key` made from its
//!    shop, buyer and text, backing off while the server is unavailable;
//! 4. acknowledges the replies it typed, leases new ones, and types those whose
//!    `reply_delay` has passed into the shop's chat window;
//! 5. sends a heartbeat when due.
//!
//! Nothing read or typed is lost across a restart: both journals are on disk before the
//! server is told anything. A reply is typed at most once: the journal says "typing"
//! before the first key press, so after a crash mid-typing the reply is acknowledged as
//! failed for a person to check, never typed again.

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::client::{ApiError, NewMessage, OutboxItem, Server, ShopSettings};
use crate::config::AgentConfig;
use crate::desktop::Desktop;
use crate::extract;
use crate::frame::Fingerprint;
use crate::journal::Journal;
use crate::ocr::Ocr;
use crate::unread::{self, Region};

/// A buyer message read off the screen: remembered this long after the server has it.
const REMEMBER_HOURS: i64 = 24;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ReadMessage {
    /// On disk, not yet taken by the server.
    Queued {
        message: NewMessage,
    },
    Posted,
    /// The server refused it for good (`code`); kept only so it is not read again.
    Refused {
        code: String,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Reply {
    /// Written before the first key press.
    Typing,
    Sent {
        acked: bool,
    },
    /// Nothing reached the chat; typing it again when offered again is safe.
    NotTyped {
        reason: String,
        acked: bool,
    },
    /// Something may have reached the chat (focus lost, agent stopped mid-typing):
    /// never typed again, acknowledged as failed for a person to check.
    Uncertain {
        reason: String,
        acked: bool,
    },
}

/// The `Idempotency-Key` of a buyer message: the same message read off many frames, or
/// by an agent restarted, is one message.
pub fn message_key(shop_id: i64, customer_id: &str, text: &str) -> String {
    let mut hash = Sha256::new();
    for part in [shop_id.to_string().as_str(), customer_id, text] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    format!("agent-{}", &hex::encode(hash.finalize())[..40])
}

/// What one turn did, for logs and tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Turn {
    pub frames_read: usize,
    pub queued: usize,
    pub posted: usize,
    pub typed: usize,
    pub acked: usize,
}

struct Watched {
    settings: Option<ShopSettings>,
    last_read: Option<Fingerprint>,
}

/// A leased reply waiting for its `reply_delay`.
struct Held {
    item: OutboxItem,
    due: Instant,
}

pub struct Agent<D: Desktop> {
    config: AgentConfig,
    server: Server,
    desktop: D,
    ocr: Arc<Ocr>,
    messages: Journal<ReadMessage>,
    replies: Journal<Reply>,
    shops: Vec<(i64, Watched)>,
    held: Vec<Held>,
    /// While the server is unavailable: when to post again, and the waits to come.
    post_after: Option<(Instant, Box<dyn Iterator<Item = Duration> + Send>)>,
    settings_due: Instant,
    heartbeat_due: Instant,
    host: String,
}

impl<D: Desktop> Agent<D> {
    pub fn new(
        config: AgentConfig,
        server: Server,
        desktop: D,
        ocr: Arc<Ocr>,
    ) -> anyhow::Result<Self> {
        let messages = Journal::open(&config.data_dir.join("messages.jsonl"), |m, age| {
            !matches!(m, ReadMessage::Queued { .. }) && age.num_hours() >= REMEMBER_HOURS
        })?;
        let mut replies = Journal::open(&config.data_dir.join("replies.jsonl"), |r, age| {
            reply_acked(r) && age.num_hours() >= REMEMBER_HOURS
        })?;
        // Stopped while typing: part of the reply may be in the chat.
        for (id, _) in replies.select(|r| *r == Reply::Typing) {
            let reason = "the agent stopped while typing this reply: check the chat".to_owned();
            replies.put(
                &id,
                Reply::Uncertain {
                    reason,
                    acked: false,
                },
            )?;
        }
        let shops = config
            .shop_ids
            .iter()
            .map(|id| {
                (
                    *id,
                    Watched {
                        settings: None,
                        last_read: None,
                    },
                )
            })
            .collect();
        let host = std::env::var("HOSTNAME")
            .or_else(|_| std::env::var("COMPUTERNAME"))
            .unwrap_or_else(|_| "desktop".into());
        let now = Instant::now();
        Ok(Self {
            config,
            server,
            desktop,
            ocr,
            messages,
            replies,
            shops,
            held: Vec::new(),
            post_after: None,
            settings_due: now,
            heartbeat_due: now,
            host,
        })
    }

    /// Runs turns until `stop` resolves.
    pub async fn run(&mut self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            match self.turn().await {
                Ok(turn) if turn != Turn::default() => tracing::info!(?turn, "turn"),
                Ok(_) => {}
                Err(error) => tracing::error!("turn failed: {error:#}"),
            }
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(self.config.interval()) => {}
            }
        }
    }

    /// One turn of the loop. Errors are the agent's own (its disk, the OCR); the
    /// server's and the desktop's troubles are handled and logged within.
    pub async fn turn(&mut self) -> anyhow::Result<Turn> {
        let mut turn = Turn::default();
        self.refresh_settings().await;
        self.watch(&mut turn).await?;
        self.post_queue(&mut turn).await?;
        self.acknowledge(&mut turn).await?;
        self.take_replies().await?;
        self.type_due(&mut turn).await?;
        self.heartbeat().await;
        Ok(turn)
    }

    async fn refresh_settings(&mut self) {
        if Instant::now() < self.settings_due {
            return;
        }
        self.settings_due = Instant::now() + Duration::from_secs(self.config.settings_secs);
        for (id, watched) in &mut self.shops {
            match self.server.shop(*id).await {
                Ok(settings) => watched.settings = Some(settings),
                // Keep the last settings; without any the shop waits.
                Err(error) => tracing::warn!(shop_id = *id, "shop settings not refreshed: {error}"),
            }
        }
    }

    async fn watch(&mut self, turn: &mut Turn) -> anyhow::Result<()> {
        for (shop_id, watched) in &mut self.shops {
            let Some(settings) = &watched.settings else {
                continue;
            };
            let region = match Region::from_setting(&settings.ocr_region) {
                Ok(region) => region,
                Err(_) if settings.ocr_region.is_empty() => continue,
                Err(error) => {
                    tracing::warn!(shop_id = *shop_id, "{error}");
                    continue;
                }
            };
            let frame = match self.desktop.capture(region) {
                Ok(frame) => frame,
                Err(error) => {
                    tracing::warn!(shop_id = *shop_id, "capture failed: {error}");
                    continue;
                }
            };
            let whole = Region {
                x: 0,
                y: 0,
                width: frame.width(),
                height: frame.height(),
            };
            let share = unread::red_share(&frame, whole, &self.config.badge).unwrap_or(0.0);
            if share < settings.unread_threshold {
                continue;
            }
            let fingerprint = Fingerprint::of(&frame);
            if watched.last_read.as_ref() == Some(&fingerprint) {
                continue;
            }
            let ocr = self.ocr.clone();
            let panel_width = frame.width();
            let lines = tokio::task::spawn_blocking(move || ocr.read(&frame)).await??;
            turn.frames_read += 1;
            let found = extract::buyer_messages(&lines, panel_width);
            if found.unattributed > 0 {
                tracing::warn!(
                    shop_id = *shop_id,
                    lines = found.unattributed,
                    "buyer text with no buyer name above it on the panel was not posted"
                );
            }
            for message in found.messages {
                let key = message_key(*shop_id, &message.customer_id, &message.text);
                if self.messages.get(&key).is_some() {
                    continue;
                }
                let message = NewMessage {
                    shop_id: *shop_id,
                    customer_id: message.customer_id,
                    content: message.text,
                    received_at: Utc::now(),
                };
                self.messages.put(&key, ReadMessage::Queued { message })?;
                turn.queued += 1;
            }
            // Only a frame fully handled counts as read.
            watched.last_read = Some(fingerprint);
        }
        Ok(())
    }

    async fn post_queue(&mut self, turn: &mut Turn) -> anyhow::Result<()> {
        if self
            .post_after
            .as_ref()
            .is_some_and(|(at, _)| Instant::now() < *at)
        {
            return Ok(());
        }
        for (key, read) in self
            .messages
            .select(|m| matches!(m, ReadMessage::Queued { .. }))
        {
            let ReadMessage::Queued { message } = read else {
                continue;
            };
            match self.server.post_message(&message, &key).await {
                Ok(()) => {
                    self.messages.put(&key, ReadMessage::Posted)?;
                    self.post_after = None;
                    turn.posted += 1;
                }
                Err(error) if error.retryable() => {
                    let (_, waits) = self.post_after.get_or_insert_with(|| {
                        let waits = ExponentialBuilder::default()
                            .with_min_delay(Duration::from_secs(1))
                            .with_max_delay(Duration::from_secs(60))
                            .with_jitter()
                            .without_max_times()
                            .build();
                        (Instant::now(), Box::new(waits))
                    });
                    let wait = waits.next().unwrap_or(Duration::from_secs(60));
                    tracing::warn!(queued = self.queued(), "posting waits {wait:?}: {error}");
                    if let Some((at, _)) = &mut self.post_after {
                        *at = Instant::now() + wait;
                    }
                    return Ok(());
                }
                Err(ApiError::Refused {
                    code, message: why, ..
                }) => {
                    tracing::error!(code, "the server refused a buyer message for good: {why}");
                    self.messages.put(&key, ReadMessage::Refused { code })?;
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }

    /// Buyer messages on disk that the server does not have yet.
    pub fn queued(&self) -> usize {
        self.messages
            .select(|m| matches!(m, ReadMessage::Queued { .. }))
            .len()
    }

    async fn acknowledge(&mut self, turn: &mut Turn) -> anyhow::Result<()> {
        for (id, reply) in self
            .replies
            .select(|r| !reply_acked(r) && *r != Reply::Typing)
        {
            let Ok(message_id) = id.parse::<i64>() else {
                continue;
            };
            let error = match &reply {
                Reply::NotTyped { reason, .. } | Reply::Uncertain { reason, .. } => {
                    Some(reason.as_str())
                }
                _ => None,
            };
            match self.server.ack(message_id, error).await {
                Ok(()) => {}
                // Someone else's lease by now, or the reply was withdrawn: nothing to say.
                Err(ApiError::Refused {
                    status: 404 | 409 | 422,
                    ..
                }) => {}
                Err(error) => {
                    tracing::warn!(message_id, "acknowledgement waits: {error}");
                    continue;
                }
            }
            self.replies.put(&id, with_ack(reply))?;
            turn.acked += 1;
        }
        Ok(())
    }

    async fn take_replies(&mut self) -> anyhow::Result<()> {
        for (shop_id, watched) in &self.shops {
            if watched.settings.is_none() {
                continue;
            }
            let items = match self.server.take_outbox(*shop_id).await {
                Ok(items) => items,
                Err(error) => {
                    tracing::warn!(shop_id = *shop_id, "outbox not read: {error}");
                    continue;
                }
            };
            for item in items {
                let id = item.message_id.to_string();
                if self
                    .held
                    .iter()
                    .any(|h| h.item.message_id == item.message_id)
                {
                    continue;
                }
                match self.replies.get(&id) {
                    // Offered again after a failure that typed nothing: type it again.
                    None | Some(Reply::NotTyped { .. }) => {
                        let wait = Duration::from_secs(item.reply_delay.max(0) as u64);
                        self.held.push(Held {
                            item,
                            due: Instant::now() + wait,
                        });
                    }
                    // Typed (or maybe typed) already: only say so again.
                    Some(Reply::Sent { .. }) => {
                        self.replies.put(&id, Reply::Sent { acked: false })?
                    }
                    Some(Reply::Uncertain { reason, .. }) => {
                        let reason = reason.clone();
                        self.replies.put(
                            &id,
                            Reply::Uncertain {
                                reason,
                                acked: false,
                            },
                        )?
                    }
                    Some(Reply::Typing) => {}
                }
            }
        }
        Ok(())
    }

    async fn type_due(&mut self, turn: &mut Turn) -> anyhow::Result<()> {
        let now = Instant::now();
        let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|h| h.due <= now);
        self.held = waiting;
        for Held { item, .. } in due {
            let id = item.message_id.to_string();
            let title = self
                .shops
                .iter()
                .find(|(shop_id, _)| *shop_id == item.shop_id)
                .and_then(|(_, w)| w.settings.as_ref())
                .map(|s| s.qianniu_title.clone())
                .unwrap_or_default();
            let outcome = if title.trim().is_empty() {
                Reply::NotTyped {
                    reason: "the shop has no qianniu_title: no window to type into".into(),
                    acked: false,
                }
            } else {
                self.replies.put(&id, Reply::Typing)?;
                match self.desktop.type_reply(&title, &item.text) {
                    Ok(()) => {
                        turn.typed += 1;
                        Reply::Sent { acked: false }
                    }
                    Err(error) if error.nothing_typed() => Reply::NotTyped {
                        reason: error.to_string(),
                        acked: false,
                    },
                    Err(error) => Reply::Uncertain {
                        reason: error.to_string(),
                        acked: false,
                    },
                }
            };
            self.replies.put(&id, outcome)?;
        }
        // Say what became of them now rather than a turn later.
        self.acknowledge(turn).await
    }

    async fn heartbeat(&mut self) {
        if Instant::now() < self.heartbeat_due {
            return;
        }
        self.heartbeat_due = Instant::now() + Duration::from_secs(self.config.heartbeat_secs);
        if let Err(error) = self
            .server
            .heartbeat(&self.config.shop_ids, &self.host)
            .await
        {
            tracing::warn!("heartbeat not sent: {error}");
        }
    }
}

fn reply_acked(reply: &Reply) -> bool {
    matches!(
        reply,
        Reply::Sent { acked: true }
            | Reply::NotTyped { acked: true, .. }
            | Reply::Uncertain { acked: true, .. }
    )
}

fn with_ack(reply: Reply) -> Reply {
    match reply {
        Reply::Sent { .. } => Reply::Sent { acked: true },
        Reply::NotTyped { reason, .. } => Reply::NotTyped {
            reason,
            acked: true,
        },
        Reply::Uncertain { reason, .. } => Reply::Uncertain {
            reason,
            acked: true,
        },
        Reply::Typing => Reply::Typing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_key_depends_on_shop_buyer_and_text_only() {
        let key = message_key(1, "tb_buyer", "在吗");
        assert_eq!(key, message_key(1, "tb_buyer", "在吗"));
        assert!(key.starts_with("agent-") && key.len() == 46);
        for other in [
            message_key(2, "tb_buyer", "在吗"),
            message_key(1, "tb_buyer2", "在吗"),
            message_key(1, "tb_buye", "r在吗"),
        ] {
            assert_ne!(key, other);
        }
    }
}

//! Message-push events, typed and dispatched to handlers after they are stored.
//!
//! A message (`{eventId, msgId, bizId, openId, event, info: "<json>", …}`) becomes a
//! [`PushEvent`]: its kind from the platform's event name (`kwaishop_order_paySuccess`
//! …), the order and refund ids from its `info`. Handlers say which kinds they take.
//! The built-in ones keep local copies fresh: order events re-read the order
//! (`open.order.detail`) into `kuaishou_orders`, refund events the refund
//! (`open.seller.order.refund.detail`) into `kuaishou_refunds`.
//!
//! Dispatch is durable: the webhook answers once the event is stored and dispatches
//! it in the background; a job sweeps what is still pending (a crash, a failed
//! handler). An event is claimed by a conditional update that moves its
//! `next_attempt_at` (a lease), so with several replicas one handles it at a time; a
//! failure is retried with backoff and given up (`failed`) after [`MAX_ATTEMPTS`].
//! Handlers re-read the platform, so running one twice changes nothing.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::entity::prelude::{DeriveActiveEnum, EnumIter, StringLen};
use serde::Serialize;
use serde_json::Value;
use shopops_kernel::{tr, AppResult, Job, Kernel};
use utoipa::ToSchema;

use crate::entities::{event, shop};
use crate::error;
use crate::platform::Platform;
use crate::service::calls::execute;
use crate::service::shops::ShopStatus;
use crate::store::{self, across_tenants};
use crate::typed::orders::OrderDetail;
use crate::typed::refunds::RefundDetail;

/// Attempts before an event is given up.
pub const MAX_ATTEMPTS: i64 = 8;
/// How long a claimed event is left to its handler before another replica may retry.
const LEASE_SECS: i64 = 60;
/// Events claimed per sweep.
const BATCH: u64 = 50;

/// Where a stored event stands with its handlers, as stored in
/// `kuaishou_events.dispatch_status`. Read from the database into this type, so a row
/// in any other state is an error, never taken for one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum DispatchStatus {
    /// Waiting for its handlers (first run, or a retry after `next_attempt_at`).
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Every handler succeeded (or its shop is gone: nothing left to keep fresh).
    #[sea_orm(string_value = "done")]
    Done,
    /// Given up after [`MAX_ATTEMPTS`]; `last_error` says why.
    #[sea_orm(string_value = "failed")]
    Failed,
    /// Nothing to dispatch: a heartbeat (`test: true`).
    #[sea_orm(string_value = "skipped")]
    Skipped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    OrderCreated,
    OrderPaid,
    OrderShipped,
    OrderReceived,
    OrderSucceeded,
    OrderFailed,
    OrderFeeChanged,
    OrderNoteChanged,
    OrderAddressChanged,
    RefundCreated,
    RefundUpdated,
    Other,
}

impl EventKind {
    /// The kind of a platform event name.
    pub fn of(event: &str) -> EventKind {
        match event {
            "kwaishop_order_addOrder" => EventKind::OrderCreated,
            "kwaishop_order_paySuccess" => EventKind::OrderPaid,
            "kwaishop_order_delivering" => EventKind::OrderShipped,
            "kwaishop_order_deliverySuccess" => EventKind::OrderReceived,
            "kwaishop_order_orderSuccess" => EventKind::OrderSucceeded,
            "kwaishop_order_orderFail" => EventKind::OrderFailed,
            "kwaishop_order_totalFeeChange" => EventKind::OrderFeeChanged,
            "kwaishop_order_addNote" => EventKind::OrderNoteChanged,
            "kwaishop_order_addressUpdateAudit" | "kwaishop_order_addressChange" => {
                EventKind::OrderAddressChanged
            }
            "kwaishop_aftersales_addRefund" => EventKind::RefundCreated,
            "kwaishop_aftersales_updateRefund" => EventKind::RefundUpdated,
            _ => EventKind::Other,
        }
    }

    pub fn is_order(self) -> bool {
        !matches!(
            self,
            EventKind::RefundCreated | EventKind::RefundUpdated | EventKind::Other
        )
    }

    pub fn is_refund(self) -> bool {
        matches!(self, EventKind::RefundCreated | EventKind::RefundUpdated)
    }
}

/// A stored message, typed.
#[derive(Debug, Clone)]
pub struct PushEvent {
    pub kind: EventKind,
    /// The platform's event name as sent.
    pub name: String,
    pub message_id: String,
    pub order_id: Option<i64>,
    pub refund_id: Option<i64>,
    /// The decoded `info` object (`{}` when absent or not JSON).
    pub info: Value,
}

fn id(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

impl PushEvent {
    pub fn parse(message_id: &str, message: &Value) -> PushEvent {
        let name = message["event"].as_str().unwrap_or_default().to_string();
        // `info` is a JSON text inside the message; some senders inline the object.
        let info = match &message["info"] {
            Value::String(s) => serde_json::from_str(s).unwrap_or_default(),
            v @ Value::Object(_) => v.clone(),
            _ => Value::Object(Default::default()),
        };
        let kind = EventKind::of(&name);
        let order_id = id(&info["oid"])
            .or_else(|| id(&info["orderId"]))
            .or_else(|| kind.is_order().then(|| id(&message["bizId"])).flatten());
        PushEvent {
            kind,
            name,
            message_id: message_id.to_string(),
            order_id,
            refund_id: id(&info["refundId"]),
            info,
        }
    }
}

/// Something to do when an event of certain kinds arrives.
#[async_trait::async_trait]
pub trait EventHandler: Send + Sync {
    fn name(&self) -> &'static str;
    fn handles(&self, kind: EventKind) -> bool;
    async fn handle(
        &self,
        kernel: &Kernel,
        platform: &Platform,
        shop: &shop::Model,
        event: &PushEvent,
    ) -> AppResult<()>;
}

/// Order events: the order is read again and stored if newer.
pub struct RefreshOrder;

#[async_trait::async_trait]
impl EventHandler for RefreshOrder {
    fn name(&self) -> &'static str {
        "refresh_order"
    }

    fn handles(&self, kind: EventKind) -> bool {
        kind.is_order()
    }

    async fn handle(
        &self,
        kernel: &Kernel,
        platform: &Platform,
        shop: &shop::Model,
        event: &PushEvent,
    ) -> AppResult<()> {
        let oid = event.order_id.ok_or_else(|| {
            error::webhook_body(tr!("消息没有订单号", "the message has no order id"))
        })?;
        let order = execute(kernel, platform, shop, &OrderDetail { oid }).await?;
        store::upsert_order(&kernel.db, shop, &order).await?;
        Ok(())
    }
}

/// Refund events: the refund is read and stored if newer.
pub struct RefreshRefund;

#[async_trait::async_trait]
impl EventHandler for RefreshRefund {
    fn name(&self) -> &'static str {
        "refresh_refund"
    }

    fn handles(&self, kind: EventKind) -> bool {
        kind.is_refund()
    }

    async fn handle(
        &self,
        kernel: &Kernel,
        platform: &Platform,
        shop: &shop::Model,
        event: &PushEvent,
    ) -> AppResult<()> {
        let refund_id = event.refund_id.ok_or_else(|| {
            error::webhook_body(tr!("消息没有退款单号", "the message has no refund id"))
        })?;
        let refund = execute(kernel, platform, shop, &RefundDetail { refund_id }).await?;
        store::upsert_refund(&kernel.db, shop, &refund).await?;
        Ok(())
    }
}

/// The handlers events go to.
#[derive(Clone)]
pub struct Dispatcher {
    handlers: Arc<Vec<Arc<dyn EventHandler>>>,
}

impl Default for Dispatcher {
    fn default() -> Self {
        Self::new(vec![Arc::new(RefreshOrder), Arc::new(RefreshRefund)])
    }
}

impl Dispatcher {
    pub fn new(handlers: Vec<Arc<dyn EventHandler>>) -> Self {
        Self {
            handlers: Arc::new(handlers),
        }
    }

    /// Runs every handler of the event's kind; the first failure is the event's.
    async fn run(
        &self,
        kernel: &Kernel,
        platform: &Platform,
        shop: &shop::Model,
        event: &PushEvent,
    ) -> Result<(), String> {
        for handler in self.handlers.iter().filter(|h| h.handles(event.kind)) {
            handler
                .handle(kernel, platform, shop, event)
                .await
                .map_err(|e| format!("{}: {e}", handler.name()))?;
        }
        Ok(())
    }
}

/// Handles one stored event if it is due and this caller claims it: an attempt is
/// claimed by moving `next_attempt_at` a lease ahead, so with several replicas one
/// handles it at a time.
pub async fn dispatch(kernel: &Kernel, platform: &Platform, row: event::Model) -> AppResult<()> {
    if row.dispatch_status != DispatchStatus::Pending {
        return Ok(());
    }
    let lease_until = Utc::now() + chrono::Duration::seconds(LEASE_SECS);
    if !store::claim_event(&kernel.db, &row, lease_until).await? {
        return Ok(());
    }
    let attempts = row.attempts + 1;
    let shop = match row.shop_id {
        Some(id) => store::find_shop(&kernel.db, row.tenant_id, id).await?,
        None => None,
    };
    let parsed = PushEvent::parse(&row.message_id, &row.payload);
    let outcome = match &shop {
        Some(s) if s.status != ShopStatus::Revoked => {
            platform.dispatcher.run(kernel, platform, s, &parsed).await
        }
        // The shop is gone or disconnected: nothing to keep fresh.
        Some(_) | None => Ok(()),
    };
    let (status, next, error, label) = match outcome {
        Ok(()) => (DispatchStatus::Done, None, None, "handled"),
        Err(e) if attempts >= MAX_ATTEMPTS => (DispatchStatus::Failed, None, Some(e), "failed"),
        Err(e) => {
            // 10 s, 20 s, 40 s … capped at 30 min.
            let backoff = (10i64 << (attempts - 1).min(8)).min(1800);
            let next = Utc::now() + chrono::Duration::seconds(backoff);
            (DispatchStatus::Pending, Some(next), Some(e), "retry")
        }
    };
    if let Some(e) = &error {
        tracing::warn!(event = %row.event, message_id = %row.message_id, attempts, error = %e, "Kuaishou event handler failed");
    }
    platform
        .metrics
        .push_events
        .with_label_values(&[&row.event, label])
        .inc();
    store::finish_event(&kernel.db, &row, status, next, error).await?;
    Ok(())
}

/// Dispatches the pending events that are due, oldest first; returns how many were
/// looked at.
pub async fn dispatch_due(kernel: &Kernel, platform: &Platform) -> AppResult<usize> {
    let due = across_tenants::due_events(&kernel.db, Utc::now(), BATCH).await?;
    let n = due.len();
    for row in due {
        dispatch(kernel, platform, row).await?;
    }
    Ok(n)
}

/// The sweep: every 10 s, the pending events that are due (a crash before the
/// background dispatch ran, a handler that failed and waits for its retry).
pub fn sweep_job(platform: Arc<Platform>) -> Job {
    Job::new(
        "kuaishou_event_dispatch",
        Duration::from_secs(10),
        move |kernel: Kernel| {
            let platform = platform.clone();
            async move {
                dispatch_due(&kernel, &platform)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        },
    )
    .one_leader()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_become_typed_events() {
        let paid = json!({ "eventId": "e1", "msgId": "m1", "bizId": 2607602240240301i64, "openId": "s", "event": "kwaishop_order_paySuccess",
            "info": "{\"oid\":2607602240240301,\"sellerId\":2161524184,\"status\":30,\"updateTime\":1773750945776}" });
        let e = PushEvent::parse("m1", &paid);
        assert_eq!(e.kind, EventKind::OrderPaid);
        assert_eq!(e.order_id, Some(2607602240240301));
        assert_eq!(e.info["status"], 30);
        let refund = json!({ "msgId": "m2", "event": "kwaishop_aftersales_addRefund",
            "info": { "orderId": "2419800012345678", "refundId": 1120000123456789i64, "handlingWay": 10 } });
        let e = PushEvent::parse("m2", &refund);
        assert_eq!(e.kind, EventKind::RefundCreated);
        assert_eq!(
            (e.order_id, e.refund_id),
            (Some(2419800012345678), Some(1120000123456789))
        );
        let other = PushEvent::parse(
            "m3",
            &json!({ "event": "kwaishop_item_change", "bizId": 5, "info": "not json" }),
        );
        assert_eq!((other.kind, other.order_id), (EventKind::Other, None));
        assert!(EventKind::of("kwaishop_order_delivering").is_order());
        assert!(!EventKind::RefundUpdated.is_order());
    }
}

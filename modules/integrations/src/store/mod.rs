//! The queries, one file per group of tables.
//!
//! A read made for a caller takes the caller's tenant, and a caller-chosen number
//! (`out_trade_no`, `out_refund_no`, `message_id`) — unique across tenants — is looked
//! up with it too ([`Unique`]): another tenant's row is never handed out. A write to a
//! row goes by the row itself (its id and tenant). Three kinds of query see every
//! tenant, and say so: the jobs' (they work for every tenant), a provider's
//! notification (it names an order, not a tenant) and the providers' overrides (the
//! providers are the platform's).

pub mod captcha;
pub mod outbox;
pub mod overrides;
pub mod payments;

/// A caller-chosen number, looked up for one tenant.
#[derive(Debug)]
pub enum Unique<T> {
    /// Nobody uses it.
    Free,
    /// This tenant's row.
    Mine(T),
    /// Another tenant's.
    Taken,
}

impl<T> Unique<T> {
    fn of(row: Option<T>, tenant: i64, tenant_of: impl Fn(&T) -> i64) -> Self {
        match row {
            None => Unique::Free,
            Some(row) if tenant_of(&row) == tenant => Unique::Mine(row),
            Some(_) => Unique::Taken,
        }
    }
}

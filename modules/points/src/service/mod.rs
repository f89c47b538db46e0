//! The points module's behaviour, independent of HTTP. Every write runs inside the
//! caller's transaction and writes its audit record there (inserted unlinked: the
//! audit linker chains it after the commit, so writes of a tenant never queue on the
//! chain).
//!
//! - [`domain`]: the values (entry types, categories, member ids, amounts, reasons);
//!   [`validate`]: requests into those values;
//! - [`ledger`]: earn, spend, adjust, freeze/unfreeze, reverse; [`expiry`]: lots past
//!   their date (the job and `shopops points expire`); [`integrity`]: balances against
//!   ledger and lots;
//! - [`levels`], [`tags`], [`settings`]: the tenant's definitions (levels and settings
//!   cached); [`profiles`]: a member's view, ledger, contact data and lookup.

pub mod domain;
pub mod expiry;
pub mod integrity;
pub mod ledger;
pub mod levels;
pub mod profiles;
pub mod settings;
pub mod tags;
pub mod validate;

use shopops_kernel::audit::{self, Actor, Change};
use shopops_kernel::http::RequestContext;
use shopops_kernel::AppResult;

/// Who performs an operation, and under which request.
pub struct Operator<'a> {
    pub ctx: &'a RequestContext,
    pub actor: Actor,
    pub tenant_id: i64,
    pub idempotency_key: Option<String>,
}

impl Operator<'_> {
    /// Records the change in the audit log, in the caller's transaction.
    pub async fn audit<C: sea_orm::ConnectionTrait>(
        &self,
        db: &C,
        action: &str,
        target_type: &str,
        target_id: String,
        summary: serde_json::Value,
    ) -> AppResult<()> {
        audit::record(
            db,
            self.ctx,
            &self.actor,
            Change {
                tenant_id: self.tenant_id,
                action,
                target_type,
                target_id,
                summary,
            },
        )
        .await?;
        Ok(())
    }
}

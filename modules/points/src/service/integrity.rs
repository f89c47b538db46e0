//! The integrity check: every balance against the sums of its ledger and its lots
//! (`total_points = Σ points_delta`, `frozen_points = Σ frozen_delta`,
//! `Σ lot remainders = max(total_points, 0) + frozen_points`, frozen never negative).

use sea_orm::ConnectionTrait;
use serde::Serialize;
use shopops_kernel::AppResult;
use utoipa::ToSchema;

use crate::store::{self, Discrepancy, Scope};

#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrityReport {
    pub profiles_checked: i64,
    /// True when every balance equals its ledger and lots.
    pub consistent: bool,
    pub discrepancies: Vec<Discrepancy>,
}

/// Checks the profiles in `scope`: a tenant's (`GET /integrity`) or every tenant's
/// (`shopops points verify`).
pub async fn check<C: ConnectionTrait>(db: &C, scope: Scope) -> AppResult<IntegrityReport> {
    let (checked, discrepancies) = store::discrepancies(db, scope).await?;
    Ok(IntegrityReport {
        profiles_checked: checked,
        consistent: discrepancies.is_empty(),
        discrepancies,
    })
}

//! The points module's refusals, in seed 001's shapes.

use actix_web::http::StatusCode;
use serde_json::{json, Value};
use shopops_kernel::AppError;

pub const CATEGORIES: &[&str] = &[
    "login",
    "license",
    "referral",
    "community",
    "payment",
    "manual",
    "vip_upgrade",
    "feature_unlock",
];

/// What a caller can do to get more points (seed 001's `suggestions`).
const SUGGESTIONS: &[&str] = &["完成日常任务获得积分", "邀请朋友注册获得奖励", "购买积分包"];

/// 409 `INSUFFICIENT_POINTS` with `required_points`, `available_points`, `shortage`,
/// `suggestions`.
pub fn insufficient_points(required: i64, available: i64) -> AppError {
    AppError::new(StatusCode::CONFLICT, "INSUFFICIENT_POINTS", "积分余额不足").with_details(json!({
        "required_points": required,
        "available_points": available,
        "shortage": required - available,
        "suggestions": SUGGESTIONS,
    }))
}

/// 409 `INSUFFICIENT_FROZEN_POINTS`: an unfreeze of more than is frozen.
pub fn insufficient_frozen(required: i64, frozen: i64) -> AppError {
    AppError::new(StatusCode::CONFLICT, "INSUFFICIENT_FROZEN_POINTS", "not that many points are frozen")
        .with_details(json!({ "required_points": required, "frozen_points": frozen, "shortage": required - frozen }))
}

/// 409 `VIP_TAG_CONFLICT`: the member already holds a tag of the requested type.
pub fn vip_tag_conflict(existing: Value, requested: Value) -> AppError {
    AppError::new(
        StatusCode::CONFLICT,
        "VIP_TAG_CONFLICT",
        "VIP标签冲突，用户已拥有同类型VIP",
    )
    .with_details(json!({
        "existing_tag": existing,
        "requested_tag": requested,
        "resolution_options": ["upgrade_existing", "extend_existing", "replace_existing"],
    }))
}

pub fn entry_already_reversed(entry_id: i64, by: Option<i64>) -> AppError {
    AppError::conflict("ENTRY_ALREADY_REVERSED", "this entry was already reversed")
        .with_details(json!({ "entry_id": entry_id, "reversed_by_entry_id": by }))
}

pub fn entry_not_reversible(entry_id: i64, entry_type: &str) -> AppError {
    AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "ENTRY_NOT_REVERSIBLE", "only earn, spend and adjust entries can be reversed")
        .with_details(json!({ "entry_id": entry_id, "entry_type": entry_type, "reversible_types": ["earn", "spend", "adjust"] }))
}

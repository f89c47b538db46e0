//! The points module's error codes (its part of the catalogue, shown in docs/errors.md)
//! and the helpers that build each refusal with its details. Kernel codes
//! (`VALIDATION_ERROR`, `RESOURCE_NOT_FOUND`, `INVALID_QUERY` …) come from
//! `shopops_kernel::error::Code`.

use sea_orm::DbErr;
use serde_json::{json, Value};
use shopops_kernel::error::{is_unique_violation, Localized};
use shopops_kernel::AppError;

use crate::service::domain::EntryType;
use crate::store::MAX_BALANCE;

shopops_kernel::error_codes! {
    /// The points module's codes.
    pub enum Code {
        /// A spend, freeze, negative adjust or reversal needs more available points than
        /// the member has. Details: `required_points`, `available_points`, `shortage`,
        /// `suggestions` (ways to earn more, in the caller's language). Nothing changed.
        InsufficientPoints = (409, "INSUFFICIENT_POINTS", "积分余额不足", "not enough points"),
        /// An unfreeze of more than is frozen. Details: `required_points`,
        /// `frozen_points`, `shortage`. Nothing changed.
        InsufficientFrozenPoints = (409, "INSUFFICIENT_FROZEN_POINTS", "冻结积分不足", "not that many points are frozen"),
        /// The member already holds a tag of the requested type. Details: `existing_tag`
        /// (`id`, `tag_name`, `expires_at`), `requested_tag` (`id`, `tag_name`),
        /// `resolution_options`: repeat the grant with `"resolution"` set to
        /// `upgrade_existing` (higher rank replaces), `extend_existing` (keep it, extend
        /// its validity) or `replace_existing`.
        VipTagConflict = (409, "VIP_TAG_CONFLICT", "VIP标签冲突，用户已拥有同类型VIP", "the member already holds a VIP tag of this type"),
        /// The entry was reversed before. Details: `entry_id`, `reversed_by_entry_id`
        /// (null when a concurrent reversal won). An entry is reversed at most once.
        EntryAlreadyReversed = (409, "ENTRY_ALREADY_REVERSED", "该流水已被冲正", "this entry was already reversed"),
        /// A level with this name or this threshold exists in the tenant (both are unique
        /// per tenant). Details: `fields` (`["name", "threshold"]`). Choose another, or
        /// change the existing level.
        LevelConflict = (409, "LEVEL_CONFLICT", "已存在同名或同门槛的等级", "a level with this name or threshold exists"),
        /// A VIP tag with this name exists in the tenant. Details: `field` (`tag_name`).
        TagNameTaken = (409, "TAG_NAME_TAKEN", "已存在同名的标签", "a tag with this name exists"),
        /// Only earn, spend and adjust entries can be reversed (freeze, unfreeze, expire
        /// and reversal entries cannot). Details: `entry_id`, `entry_type`,
        /// `reversible_types`.
        EntryNotReversible = (422, "ENTRY_NOT_REVERSIBLE", "只有获得、消费和调整流水可以冲正", "only earn, spend and adjust entries can be reversed"),
        /// `upgrade_existing` with a tag that does not outrank the held one. Details:
        /// `existing_rank`, `requested_rank`, `resolution_options` (the ones that apply).
        ResolutionNotApplicable = (422, "RESOLUTION_NOT_APPLICABLE", "upgrade_existing 需要等级更高的标签", "upgrade_existing needs a higher-ranked tag"),
        /// The operation would take the member's balance or lifetime points past the
        /// largest a member may hold (10¹⁸ points, far above any real balance; the bound
        /// keeps every sum over the ledger from overflowing). Details: `points` (the
        /// amount added), `max_balance`. Nothing changed.
        BalanceLimitExceeded = (422, "BALANCE_LIMIT_EXCEEDED", "积分余额将超过上限 {max_balance}", "the balance would pass the largest a member may hold ({max_balance})"),
    }
}

/// Ways to earn more, offered with `INSUFFICIENT_POINTS`.
const SUGGESTIONS: [Localized; 3] = [
    Localized::fixed(
        "完成日常任务获得积分",
        "complete daily tasks to earn points",
    ),
    Localized::fixed(
        "邀请朋友注册获得奖励",
        "invite friends to sign up for a reward",
    ),
    Localized::fixed("购买积分包", "buy a points pack"),
];

/// 409 `INSUFFICIENT_POINTS`.
pub fn insufficient_points(required: i64, available: i64) -> AppError {
    let suggestions: Vec<Value> = SUGGESTIONS.iter().map(Localized::to_value).collect();
    Code::InsufficientPoints.err().with_details(json!({
        "required_points": required,
        "available_points": available,
        "shortage": required - available,
        "suggestions": suggestions,
    }))
}

/// 409 `INSUFFICIENT_FROZEN_POINTS`.
pub fn insufficient_frozen(required: i64, frozen: i64) -> AppError {
    Code::InsufficientFrozenPoints.err().with_details(json!({
        "required_points": required,
        "frozen_points": frozen,
        "shortage": required - frozen,
    }))
}

/// 409 `VIP_TAG_CONFLICT`: `existing` is the held tag, `requested` the one asked for.
pub fn vip_tag_conflict(existing: Value, requested: Value) -> AppError {
    Code::VipTagConflict.err().with_details(json!({
        "existing_tag": existing,
        "requested_tag": requested,
        "resolution_options": ["upgrade_existing", "extend_existing", "replace_existing"],
    }))
}

/// 422 `RESOLUTION_NOT_APPLICABLE`: an upgrade to a tag that does not outrank the held one.
pub fn resolution_not_applicable(existing_rank: i32, requested_rank: i32) -> AppError {
    Code::ResolutionNotApplicable.err().with_details(json!({
        "existing_rank": existing_rank,
        "requested_rank": requested_rank,
        "resolution_options": ["extend_existing", "replace_existing"],
    }))
}

/// 409 `ENTRY_ALREADY_REVERSED`.
pub fn entry_already_reversed(entry_id: i64, by: Option<i64>) -> AppError {
    Code::EntryAlreadyReversed
        .err()
        .with_details(json!({ "entry_id": entry_id, "reversed_by_entry_id": by }))
}

/// 422 `ENTRY_NOT_REVERSIBLE`.
pub fn entry_not_reversible(entry_id: i64, entry_type: EntryType) -> AppError {
    let reversible: Vec<&str> = EntryType::ALL
        .iter()
        .filter(|t| t.is_reversible())
        .map(|t| t.as_str())
        .collect();
    Code::EntryNotReversible.err().with_details(json!({
        "entry_id": entry_id,
        "entry_type": entry_type.as_str(),
        "reversible_types": reversible,
    }))
}

/// 422 `BALANCE_LIMIT_EXCEEDED`: adding `points` would pass [`MAX_BALANCE`].
pub fn balance_limit(points: i64) -> AppError {
    Code::BalanceLimitExceeded
        .err()
        .with_details(json!({ "points": points, "max_balance": MAX_BALANCE }))
}

/// 409 `LEVEL_CONFLICT` for a unique violation (name or threshold); other database
/// errors as they are.
pub fn level_conflict(e: DbErr) -> AppError {
    if is_unique_violation(&e) {
        Code::LevelConflict
            .err()
            .with_details(json!({ "fields": ["name", "threshold"] }))
    } else {
        e.into()
    }
}

/// 409 `TAG_NAME_TAKEN` for a unique violation; other database errors as they are.
pub fn tag_name_taken(e: DbErr) -> AppError {
    if is_unique_violation(&e) {
        Code::TagNameTaken
            .err()
            .with_details(json!({ "field": "tag_name" }))
    } else {
        e.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shopops_kernel::error::{catalogue, rendered, Catalogue, Lang};

    #[test]
    fn the_table_is_well_formed() {
        let table = Catalogue {
            owner: "points",
            codes: Code::ALL,
        };
        assert_eq!(catalogue::check(&[table]), Ok(()));
        assert_eq!(Code::BalanceLimitExceeded.def().status, 422);
    }

    #[test]
    fn refusals_carry_their_details_in_both_languages() {
        let err = insufficient_points(30, 10);
        assert_eq!(err.status.as_u16(), 409);
        assert_eq!(err.code, "INSUFFICIENT_POINTS");
        assert_eq!(err.message.zh, "积分余额不足");
        let zh = rendered(&err, Lang::Zh);
        assert_eq!(zh["shortage"], 20);
        assert_eq!(zh["suggestions"][0], "完成日常任务获得积分");
        let en = rendered(&err, Lang::En);
        assert_eq!(en["suggestions"][2], "buy a points pack");

        let err = entry_not_reversible(7, EntryType::Freeze);
        assert_eq!(
            err.details["reversible_types"],
            json!(["earn", "spend", "adjust"])
        );
        assert_eq!(err.details["entry_type"], "freeze");
        assert_eq!(balance_limit(5).details["max_balance"], json!(MAX_BALANCE));
    }
}

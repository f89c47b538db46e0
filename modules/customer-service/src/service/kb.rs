//! Knowledge-base entries: what a valid entry is, and writing them. Every write bumps
//! the tenant's change sequence in the same transaction (the indexes of every replica
//! follow it) and is audited there too.

use chrono::Utc;
use sea_orm::entity::prelude::StringLen;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseTransaction, Set};
use serde_json::json;
use shopops_kernel::audit::{self, Actor, Change};
use shopops_kernel::error::FieldErrors;
use shopops_kernel::http::RequestContext;
use shopops_kernel::{tr, validate, AppError, AppResult};

use super::states::string_enum;
use crate::entities::kb_entry;
use crate::store;

/// Longest question (and similar question).
pub const QUESTION_MAX_CHARS: usize = 500;
/// Longest answer.
pub const ANSWER_MAX_CHARS: usize = 5000;
pub const CATEGORY_MAX_CHARS: usize = 64;
pub const KEYWORD_MAX_CHARS: usize = 32;
pub const MAX_KEYWORDS: usize = 20;
pub const MAX_SIMILAR_QUESTIONS: usize = 20;

string_enum! {
    /// Where an entry came from.
    pub enum EntrySource {
        /// Written by an operator.
        Manual = "manual",
        /// From an imported file.
        Import = "import",
        /// An approved reply a reviewer added to the knowledge base.
        Review = "review",
    }
}

/// An entry's content, checked: every field within its limits, no control characters
/// but line breaks and tabs in the answer, no empty question or answer.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryContent {
    pub shop_id: Option<i64>,
    pub question: String,
    pub answer: String,
    pub category: String,
    pub keywords: Vec<String>,
    pub similar_questions: Vec<String>,
    pub enabled: bool,
}

/// The fields of an entry as a caller gives them, before they are checked.
#[derive(Debug, Clone, Default)]
pub struct RawContent {
    pub shop_id: Option<i64>,
    pub question: String,
    pub answer: String,
    pub category: Option<String>,
    pub keywords: Vec<String>,
    pub similar_questions: Vec<String>,
    pub enabled: Option<bool>,
}

impl EntryContent {
    /// The checked content, or every rule it breaks (field → messages).
    pub fn parse(raw: RawContent) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let question = raw.question.trim().to_string();
        let answer = raw.answer.trim().to_string();
        one_line("question", &question, QUESTION_MAX_CHARS, &mut errors);
        if answer.is_empty() {
            errors.add("answer", tr!("请填写答案", "give an answer"));
        }
        validate::free_text("answer", &answer, ANSWER_MAX_CHARS, &mut errors);
        let category = raw
            .category
            .map(|c| c.trim().to_string())
            .unwrap_or_default();
        if !category.is_empty() {
            one_line("category", &category, CATEGORY_MAX_CHARS, &mut errors);
        }
        let keywords = clean_list(raw.keywords);
        if keywords.len() > MAX_KEYWORDS {
            errors.add(
                "keywords",
                tr!(
                    "最多 {MAX_KEYWORDS} 个关键词",
                    "at most {MAX_KEYWORDS} keywords"
                ),
            );
        }
        for keyword in &keywords {
            one_line("keywords", keyword, KEYWORD_MAX_CHARS, &mut errors);
        }
        let similar = clean_list(raw.similar_questions);
        if similar.len() > MAX_SIMILAR_QUESTIONS {
            errors.add(
                "similar_questions",
                tr!(
                    "最多 {MAX_SIMILAR_QUESTIONS} 个相似问法",
                    "at most {MAX_SIMILAR_QUESTIONS} similar questions"
                ),
            );
        }
        for text in &similar {
            one_line("similar_questions", text, QUESTION_MAX_CHARS, &mut errors);
        }
        if raw.shop_id.is_some_and(|s| s < 1) {
            errors.add("shop_id", tr!("必须是正整数", "must be a positive id"));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            shop_id: raw.shop_id,
            question,
            answer,
            category,
            keywords,
            similar_questions: similar,
            enabled: raw.enabled.unwrap_or(true),
        })
    }
}

/// A one-line text: 1 to `max` characters, no control characters at all.
fn one_line(field: &str, value: &str, max: usize, errors: &mut FieldErrors) {
    if value.is_empty() || value.chars().count() > max {
        errors.add(
            field,
            tr!("必须为 1 到 {max} 个字符", "must be 1 to {max} characters"),
        );
    }
    if value.chars().any(char::is_control) {
        errors.add(
            field,
            tr!("不能包含控制字符", "must not contain control characters"),
        );
    }
}

/// Trimmed, without empties and repeats, in the given order.
fn clean_list(items: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let item = item.trim().to_string();
        if !item.is_empty() && !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Refuses an entry for a shop the tenant does not have (422 on `shop_id`): an entry of
/// another tenant's shop, or of a deleted one, would be answered by nothing.
pub async fn check_shop<C: ConnectionTrait>(
    db: &C,
    tenant: i64,
    shop_id: Option<i64>,
) -> AppResult<()> {
    let Some(id) = shop_id else {
        return Ok(());
    };
    if super::shops::exists(db, tenant, id).await? {
        return Ok(());
    }
    let mut errors = FieldErrors::new();
    errors.add("shop_id", no_such_shop());
    errors.into_result()
}

/// The message of a `shop_id` the tenant does not have.
pub fn no_such_shop() -> shopops_kernel::error::Localized {
    tr!("没有这个店铺", "no such shop in this tenant")
}

/// Who writes, and why (audit).
pub struct Writer<'a> {
    pub ctx: &'a RequestContext,
    pub actor: Actor,
    pub tenant_id: i64,
}

impl Writer<'_> {
    /// The audit record of a change to `target` (its type and id).
    pub async fn record<C: ConnectionTrait>(
        &self,
        txn: &C,
        action: &'static str,
        target: (&'static str, i64),
        summary: serde_json::Value,
    ) -> AppResult<()> {
        audit::record(
            txn,
            self.ctx,
            &self.actor,
            Change {
                tenant_id: self.tenant_id,
                action,
                target_type: target.0,
                target_id: target.1.to_string(),
                summary,
            },
        )
        .await?;
        Ok(())
    }
}

/// Creates an entry; its import and line when it comes from an import.
pub async fn create(
    txn: &DatabaseTransaction,
    writer: &Writer<'_>,
    content: &EntryContent,
    source: EntrySource,
    import: Option<(i64, i64)>,
) -> AppResult<kb_entry::Model> {
    let seq = store::next_seq(txn, writer.tenant_id).await?;
    let now = Utc::now();
    let saved = kb_entry::ActiveModel {
        tenant_id: Set(writer.tenant_id),
        shop_id: Set(content.shop_id),
        question: Set(content.question.clone()),
        answer: Set(content.answer.clone()),
        category: Set(content.category.clone()),
        keywords: Set(json!(content.keywords)),
        similar_questions: Set(json!(content.similar_questions)),
        enabled: Set(content.enabled),
        source: Set(source),
        import_id: Set(import.map(|(id, _)| id)),
        import_line: Set(import.map(|(_, line)| line)),
        change_seq: Set(seq),
        deleted_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    writer
        .record(
            txn,
            "cs.kb.create",
            ("cs_kb_entry", saved.id),
            // A reviewed message's question is a buyer's words: the audit log (kept, and
            // read by auditors) names the entry and the message's shop, not the text.
            if source == EntrySource::Review {
                json!({ "source": source, "shop_id": saved.shop_id })
            } else {
                json!({ "question": saved.question, "source": source })
            },
        )
        .await?;
    Ok(saved)
}

/// Replaces an entry's content.
pub async fn update(
    txn: &DatabaseTransaction,
    writer: &Writer<'_>,
    current: kb_entry::Model,
    content: &EntryContent,
) -> AppResult<kb_entry::Model> {
    let seq = store::next_seq(txn, writer.tenant_id).await?;
    let before = json!({ "question": current.question, "enabled": current.enabled, "shop_id": current.shop_id });
    let mut active: kb_entry::ActiveModel = current.into();
    active.shop_id = Set(content.shop_id);
    active.question = Set(content.question.clone());
    active.answer = Set(content.answer.clone());
    active.category = Set(content.category.clone());
    active.keywords = Set(json!(content.keywords));
    active.similar_questions = Set(json!(content.similar_questions));
    active.enabled = Set(content.enabled);
    active.change_seq = Set(seq);
    active.updated_at = Set(Utc::now());
    let saved = active.update(txn).await?;
    let after =
        json!({ "question": saved.question, "enabled": saved.enabled, "shop_id": saved.shop_id });
    writer
        .record(
            txn,
            "cs.kb.update",
            ("cs_kb_entry", saved.id),
            json!({ "before": before, "after": after }),
        )
        .await?;
    Ok(saved)
}

/// Deletes an entry (a tombstone every index sees go; purged later).
pub async fn delete(
    txn: &DatabaseTransaction,
    writer: &Writer<'_>,
    current: kb_entry::Model,
) -> AppResult<()> {
    let seq = store::next_seq(txn, writer.tenant_id).await?;
    let question = current.question.clone();
    let mut active: kb_entry::ActiveModel = current.into();
    active.deleted_at = Set(Some(Utc::now()));
    active.change_seq = Set(seq);
    active.updated_at = Set(Utc::now());
    let saved = active.update(txn).await?;
    store::delete_embeddings(txn, saved.id).await?;
    writer
        .record(
            txn,
            "cs.kb.delete",
            ("cs_kb_entry", saved.id),
            json!({ "question": question }),
        )
        .await
}

/// The tenant's entry `id` (not deleted), or 404.
pub async fn find<C: ConnectionTrait>(db: &C, tenant: i64, id: i64) -> AppResult<kb_entry::Model> {
    store::entry(db, tenant, id)
        .await?
        .ok_or_else(|| AppError::not_found("cs_kb_entry"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shopops_kernel::error::{rendered, Lang};

    fn raw(question: &str, answer: &str) -> RawContent {
        RawContent {
            question: question.into(),
            answer: answer.into(),
            ..Default::default()
        }
    }

    #[test]
    fn an_entry_is_trimmed_deduplicated_and_enabled_by_default() {
        let mut r = raw("  什么时候发货？ ", " 付款后48小时内发货。\n节假日顺延。 ");
        r.similar_questions = vec!["几天发货".into(), " 几天发货 ".into(), "".into()];
        r.keywords = vec!["发货".into()];
        let e = EntryContent::parse(r).unwrap();
        assert_eq!(e.question, "什么时候发货？");
        assert_eq!(e.answer, "付款后48小时内发货。\n节假日顺延。");
        assert_eq!(e.similar_questions, vec!["几天发货"]);
        assert!(e.enabled);
    }

    #[test]
    fn every_broken_rule_is_named() {
        let mut r = raw("", &"长".repeat(ANSWER_MAX_CHARS + 1));
        r.similar_questions = vec!["a\u{0}b".into()];
        r.shop_id = Some(0);
        let errors = EntryContent::parse(r).unwrap_err();
        let err = AppError::validation(errors);
        let details = rendered(&err, Lang::En);
        for field in ["question", "answer", "similar_questions", "shop_id"] {
            assert!(
                details["field_errors"][field].is_array(),
                "{field}: {details}"
            );
        }
    }
}

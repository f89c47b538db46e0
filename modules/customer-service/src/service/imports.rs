//! Knowledge-base imports: a CSV, JSONL or XLSX file becomes entries, row by row, as a
//! job with progress. One bad row never aborts the rest: it is listed with its line
//! and the reasons. The file is kept with the import until it ends, and rows are
//! stored in batches that commit with the progress, each row once (import id + line
//! are unique), so a replica can take over an import whose worker died.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use chrono::{Duration, Utc};
use sea_orm::entity::prelude::StringLen;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::{json, Map, Value};
use shopops_kernel::audit::Actor;
use shopops_kernel::error::FieldErrors;
use shopops_kernel::http::RequestContext;
use shopops_kernel::{AppError, AppResult, Kernel};

use super::kb::{self, EntryContent, EntrySource, RawContent, Writer};
use super::states::string_enum;
use crate::config::CsConfig;
use crate::entities::{kb_entry, kb_import};
use crate::error::Code;

/// Rows stored per transaction (and progress saved with them).
const BATCH: usize = 100;
/// Refused rows kept with their reasons.
const MAX_ERRORS: usize = 1000;
/// How long a worker holds an import between two batches.
const LEASE_SECS: i64 = 60;

string_enum! {
    pub enum ImportFormat {
        Csv = "csv",
        Jsonl = "jsonl",
        Xlsx = "xlsx",
    }
}

impl ImportFormat {
    /// The format a file name's extension names.
    pub fn of_name(name: &str) -> Option<Self> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Self::Csv),
            "jsonl" | "ndjson" => Some(Self::Jsonl),
            "xlsx" => Some(Self::Xlsx),
            _ => None,
        }
    }

    pub fn unsupported() -> AppError {
        Code::ImportFormatUnsupported
            .err()
            .with_details(json!({ "supported": ["csv", "jsonl", "xlsx"] }))
    }
}

string_enum! {
    pub enum ImportStatus {
        /// Waiting for a worker.
        Pending = "pending",
        Running = "running",
        /// Every row handled (some may have been refused: see `failed`, `errors`).
        Done = "done",
    }
}

/// One row of the file: its line (1-based, the header is line 1 in CSV and XLSX) and
/// its fields, or why it cannot even be read.
#[derive(Debug, Clone)]
pub struct Row {
    pub line: i64,
    pub fields: Result<RawContent, String>,
}

/// The rows of a file. A file that cannot be read at all is an error; a row that
/// cannot is a row with its reason.
pub fn read_rows(format: ImportFormat, bytes: &[u8]) -> AppResult<Vec<Row>> {
    match format {
        ImportFormat::Jsonl => read_jsonl(bytes),
        ImportFormat::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .from_reader(bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes));
            let header: Vec<String> = reader
                .headers()
                .map_err(|e| unreadable(&e.to_string()))?
                .iter()
                .map(str::to_string)
                .collect();
            let columns = Columns::of(&header)?;
            let mut rows = Vec::new();
            for (i, record) in reader.records().enumerate() {
                let line = i as i64 + 2;
                rows.push(Row {
                    line,
                    fields: record
                        .map_err(|e| e.to_string())
                        .map(|r| columns.raw(|c| r.get(c).unwrap_or_default().to_string())),
                });
            }
            Ok(rows)
        }
        ImportFormat::Xlsx => {
            let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
                .map_err(|e: calamine::XlsxError| unreadable(&e.to_string()))?;
            let sheet = book
                .worksheet_range_at(0)
                .ok_or_else(|| unreadable("the workbook has no sheet"))?
                .map_err(|e| unreadable(&e.to_string()))?;
            let mut cells = sheet.rows();
            let header: Vec<String> = cells
                .next()
                .ok_or_else(|| unreadable("the sheet is empty"))?
                .iter()
                .map(cell_text)
                .collect();
            let columns = Columns::of(&header)?;
            Ok(cells
                .enumerate()
                .map(|(i, r)| Row {
                    line: i as i64 + 2,
                    fields: Ok(columns.raw(|c| r.get(c).map(cell_text).unwrap_or_default())),
                })
                .collect())
        }
    }
}

fn unreadable(reason: &str) -> AppError {
    Code::ImportUnreadable
        .err()
        .with_details(json!({ "reason": reason }))
}

fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
        other => other.to_string(),
    }
}

/// Which column holds which field (by the header's names, in any order).
struct Columns {
    question: usize,
    answer: usize,
    category: Option<usize>,
    keywords: Option<usize>,
    similar: Option<usize>,
    shop_id: Option<usize>,
    enabled: Option<usize>,
}

impl Columns {
    fn of(header: &[String]) -> AppResult<Self> {
        let find = |names: &[&str]| {
            header.iter().position(|h| {
                let h = h.trim().to_lowercase();
                names.iter().any(|n| h == *n)
            })
        };
        let question = find(&["question", "问题"]);
        let answer = find(&["answer", "答案", "回答"]);
        let (Some(question), Some(answer)) = (question, answer) else {
            return Err(unreadable(
                "the header row must name the `question` and `answer` columns",
            ));
        };
        Ok(Self {
            question,
            answer,
            category: find(&["category", "分类"]),
            keywords: find(&["keywords", "关键词"]),
            similar: find(&["similar_questions", "相似问题"]),
            shop_id: find(&["shop_id"]),
            enabled: find(&["enabled"]),
        })
    }

    /// A row's fields; lists in one cell are separated by `|` (or a line break).
    fn raw(&self, cell: impl Fn(usize) -> String) -> RawContent {
        let list = |col: Option<usize>| {
            col.map(&cell)
                .map(|text| text.split(['|', '\n']).map(str::to_string).collect())
                .unwrap_or_default()
        };
        RawContent {
            question: cell(self.question),
            answer: cell(self.answer),
            category: self.category.map(&cell),
            keywords: list(self.keywords),
            similar_questions: list(self.similar),
            shop_id: self.shop_id.map(&cell).and_then(|s| s.trim().parse().ok()),
            enabled: self.enabled.map(&cell).map(|s| {
                !matches!(
                    s.trim().to_lowercase().as_str(),
                    "false" | "0" | "no" | "否"
                )
            }),
        }
    }
}

fn read_jsonl(bytes: &[u8]) -> AppResult<Vec<Row>> {
    let text = std::str::from_utf8(bytes).map_err(|_| unreadable("the file is not UTF-8"))?;
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| Row {
            line: i as i64 + 1,
            fields: serde_json::from_str::<Map<String, Value>>(line)
                .map_err(|e| format!("not a JSON object: {e}"))
                .map(|o| {
                    let text = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
                    let list = |k: &str| match o.get(k) {
                        Some(Value::Array(items)) => items
                            .iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect(),
                        Some(Value::String(s)) => s.split('|').map(str::to_string).collect(),
                        _ => Vec::new(),
                    };
                    RawContent {
                        question: text("question").unwrap_or_default(),
                        answer: text("answer").unwrap_or_default(),
                        category: text("category"),
                        keywords: list("keywords"),
                        similar_questions: list("similar_questions"),
                        shop_id: o.get("shop_id").and_then(Value::as_i64),
                        enabled: o.get("enabled").and_then(Value::as_bool),
                    }
                }),
        })
        .collect())
}

/// Accepts a file for import: checks its size, format and that it can be read, and
/// stores it: pending (a worker picks it up), or already claimed by the caller, who
/// runs it (`shopops cs kb import`).
/// The refusal of a file over `cs.import_max_bytes`.
pub fn too_large(limit_bytes: usize) -> AppError {
    Code::ImportTooLarge
        .err()
        .with_details(json!({ "limit_bytes": limit_bytes }))
}

#[allow(clippy::too_many_arguments)] // every argument is a distinct fact of the upload
pub async fn create<C: sea_orm::ConnectionTrait>(
    db: &C,
    config: &CsConfig,
    tenant: i64,
    shop_id: Option<i64>,
    file_name: &str,
    format: ImportFormat,
    bytes: Vec<u8>,
    created_by: &str,
    claimed: bool,
) -> AppResult<kb_import::Model> {
    if bytes.len() > config.import_max_bytes {
        return Err(too_large(config.import_max_bytes));
    }
    let rows = read_rows(format, &bytes)?;
    if rows.len() > config.import_max_rows {
        return Err(Code::ImportTooLarge
            .err()
            .with_details(json!({ "limit_rows": config.import_max_rows })));
    }
    Ok(kb_import::ActiveModel {
        tenant_id: Set(tenant),
        shop_id: Set(shop_id),
        file_name: Set(file_name.chars().take(200).collect()),
        format: Set(format),
        payload: Set(bytes),
        status: Set(if claimed {
            ImportStatus::Running
        } else {
            ImportStatus::Pending
        }),
        total: Set(rows.len() as i64),
        done: Set(0),
        failed: Set(0),
        errors: Set(json!([])),
        lease_until: Set(claimed.then(|| Utc::now() + Duration::seconds(LEASE_SECS))),
        created_by: Set(created_by.to_string()),
        created_at: Set(Utc::now()),
        finished_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// Takes the oldest import nobody works on (pending, or running with a lapsed lease).
pub async fn claim(kernel: &Kernel) -> AppResult<Option<kb_import::Model>> {
    let now = Utc::now();
    let waiting = kb_import::Entity::find()
        .filter(
            Condition::any()
                .add(kb_import::Column::Status.eq(ImportStatus::Pending))
                .add(
                    Condition::all()
                        .add(kb_import::Column::Status.eq(ImportStatus::Running))
                        .add(kb_import::Column::LeaseUntil.lt(now)),
                ),
        )
        .order_by_asc(kb_import::Column::Id)
        .one(&kernel.db)
        .await?;
    let Some(import) = waiting else {
        return Ok(None);
    };
    let taken = kb_import::Entity::update_many()
        .col_expr(
            kb_import::Column::Status,
            Expr::value(ImportStatus::Running),
        )
        .col_expr(
            kb_import::Column::LeaseUntil,
            Expr::value(now + Duration::seconds(LEASE_SECS)),
        )
        .filter(kb_import::Column::Id.eq(import.id))
        .filter(kb_import::Column::Status.eq(import.status))
        .filter(match import.lease_until {
            Some(t) => kb_import::Column::LeaseUntil.eq(t),
            None => kb_import::Column::LeaseUntil.is_null(),
        })
        .exec(&kernel.db)
        .await?;
    Ok((taken.rows_affected == 1).then_some(import))
}

/// Runs a claimed import to its end from where it stands, calling `progress` after each
/// batch with (done, total).
pub async fn run(
    kernel: &Kernel,
    import: kb_import::Model,
    actor: Actor,
    progress: &(dyn Fn(i64, i64) + Sync),
) -> AppResult<kb_import::Model> {
    let rows = read_rows(import.format, &import.payload)?;
    let ctx = RequestContext {
        request_id: format!("cs-kb-import-{}", import.id),
        ip: None,
        user_agent: None,
    };
    let writer = Writer {
        ctx: &ctx,
        actor,
        tenant_id: import.tenant_id,
    };
    let shops = super::shops::tenant_shop_ids(&kernel.db, import.tenant_id).await?;
    let mut state = import;
    let mut errors: Vec<Value> = serde_json::from_value(state.errors.clone()).unwrap_or_default();
    while (state.done as usize) < rows.len() {
        let batch = &rows[state.done as usize..rows.len().min(state.done as usize + BATCH)];
        let txn = shopops_kernel::db::begin_write(&kernel.db).await?;
        let mut failed = 0;
        for row in batch {
            let refused = match &row.fields {
                Err(reason) => Some(json!({ "line": row.line, "reason": reason })),
                Ok(raw) => {
                    let mut raw = raw.clone();
                    raw.shop_id = raw.shop_id.or(state.shop_id);
                    match EntryContent::parse(raw) {
                        Err(field_errors) => Some(json!({
                            "line": row.line,
                            "field_errors": field_errors.into_map(),
                        })),
                        Ok(content) if content.shop_id.is_some_and(|id| !shops.contains(&id)) => {
                            let mut field_errors = FieldErrors::new();
                            field_errors.add("shop_id", super::kb::no_such_shop());
                            Some(
                                json!({ "line": row.line, "field_errors": field_errors.into_map() }),
                            )
                        }
                        Ok(content) => {
                            store_row(&txn, &writer, &content, state.id, row.line).await?;
                            None
                        }
                    }
                }
            };
            if let Some(reason) = refused {
                failed += 1;
                if errors.len() < MAX_ERRORS {
                    errors.push(reason);
                }
            }
        }
        let done = state.done + batch.len() as i64;
        let finished = done as usize >= rows.len();
        let mut active: kb_import::ActiveModel = state.clone().into();
        active.done = Set(done);
        active.failed = Set(state.failed + failed);
        active.errors = Set(json!(errors));
        active.lease_until = Set(Some(Utc::now() + Duration::seconds(LEASE_SECS)));
        if finished {
            active.status = Set(ImportStatus::Done);
            active.finished_at = Set(Some(Utc::now()));
            // The file is no longer needed once every row is handled.
            active.payload = Set(Vec::new());
        }
        state = active.update(&txn).await?;
        txn.commit().await?;
        progress(done, rows.len() as i64);
    }
    if state.status != ImportStatus::Done {
        // An empty file: nothing to store.
        let mut active: kb_import::ActiveModel = state.into();
        active.status = Set(ImportStatus::Done);
        active.finished_at = Set(Some(Utc::now()));
        active.payload = Set(Vec::new());
        state = active.update(&kernel.db).await?;
    }
    Ok(state)
}

/// Stores one row unless a previous worker already did (resumed import).
async fn store_row(
    txn: &sea_orm::DatabaseTransaction,
    writer: &Writer<'_>,
    content: &EntryContent,
    import: i64,
    line: i64,
) -> AppResult<()> {
    let stored = kb_entry::Entity::find()
        .filter(kb_entry::Column::ImportId.eq(import))
        .filter(kb_entry::Column::ImportLine.eq(line))
        .one(txn)
        .await?;
    if stored.is_none() {
        kb::create(
            txn,
            writer,
            content,
            EntrySource::Import,
            Some((import, line)),
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_are_read_by_header_names_with_lists_and_lines() {
        let file = "\u{feff}answer,question,similar_questions,enabled\n\
                    付款后48小时内发货,什么时候发货,几天发货|多久发货,\n\
                    ,没有答案的问题,,no\n";
        let rows = read_rows(ImportFormat::Csv, file.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].line, 2);
        let first = rows[0].fields.as_ref().unwrap();
        assert_eq!(first.question, "什么时候发货");
        assert_eq!(first.similar_questions, vec!["几天发货", "多久发货"]);
        assert_eq!(first.enabled, Some(true));
        assert_eq!(rows[1].fields.as_ref().unwrap().enabled, Some(false));
        assert!(EntryContent::parse(rows[1].fields.clone().unwrap()).is_err());
    }

    #[test]
    fn jsonl_takes_lists_or_strings_and_reports_bad_lines() {
        let file = "{\"question\":\"能开发票吗\",\"answer\":\"可以\",\"keywords\":[\"发票\"]}\n\n\
                    not json\n{\"question\":\"包邮吗\",\"answer\":\"满99包邮\",\"similar_questions\":\"免运费吗|邮费多少\"}\n";
        let rows = read_rows(ImportFormat::Jsonl, file.as_bytes()).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].fields.as_ref().unwrap().keywords, vec!["发票"]);
        assert_eq!(rows[1].line, 3);
        assert!(rows[1].fields.is_err());
        assert_eq!(rows[2].fields.as_ref().unwrap().similar_questions.len(), 2);
    }

    #[test]
    fn xlsx_rows_are_read_from_the_first_sheet() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (col, name) in ["问题", "答案", "shop_id"].iter().enumerate() {
            sheet.write_string(0, col as u16, *name).unwrap();
        }
        sheet.write_string(1, 0, "支持货到付款吗").unwrap();
        sheet.write_string(1, 1, "暂不支持").unwrap();
        sheet.write_number(1, 2, 12.0).unwrap();
        let bytes = book.save_to_buffer().unwrap();
        let rows = read_rows(ImportFormat::Xlsx, &bytes).unwrap();
        assert_eq!(rows.len(), 1);
        let row = rows[0].fields.as_ref().unwrap();
        assert_eq!(
            (row.question.as_str(), row.answer.as_str(), row.shop_id),
            ("支持货到付款吗", "暂不支持", Some(12))
        );
        assert_eq!(
            read_rows(ImportFormat::Xlsx, b"not a workbook")
                .unwrap_err()
                .code,
            "CS_IMPORT_UNREADABLE"
        );
    }

    #[test]
    fn a_file_without_the_needed_columns_is_unreadable() {
        let err = read_rows(ImportFormat::Csv, b"q,a\nx,y\n").unwrap_err();
        assert_eq!(err.code, "CS_IMPORT_UNREADABLE");
        assert_eq!(ImportFormat::of_name("faq.XLSX"), Some(ImportFormat::Xlsx));
        assert_eq!(ImportFormat::of_name("faq.txt"), None);
    }
}

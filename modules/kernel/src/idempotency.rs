//! Idempotent writes: one helper every module uses for a write that must not happen
//! twice.
//!
//! [`execute`] runs a database write in one transaction. With an `Idempotency-Key`,
//! the key and the response are inserted at the end of that same transaction, so a
//! stored response exists exactly when the write does, and the write costs one commit
//! (docs/ARCHITECTURE.md "Writes a caller asks for"). A duplicate finds the key taken
//! when it stores its own: its transaction is rolled back and it answers the stored
//! response (a concurrent duplicate waits for the first to commit). [`execute_outside`]
//! (an effect outside the database) claims the key first instead, on its own commit,
//! so concurrent duplicates see it in flight.
//! - same key, same body: the stored status and body are replayed;
//! - same key, other body: 422 `IDEMPOTENCY_KEY_REUSED`;
//! - same key while an outside effect is in flight: 409 `IDEMPOTENCY_KEY_IN_PROGRESS`;
//! - a validation failure (400/422) or a server error is not stored: fix and retry;
//! - other refusals (403, 404, 409, …) are stored and replayed like successes;
//! - a response that shows a secret once ([`WriteOutcome::shown_once`]: a new API
//!   token) is never stored: its replay is 409 `SECRET_NOT_REPLAYED` naming what the
//!   first request made, so a lost secret is revoked and made again, not shown twice.
//!
//! Every replay carries `Idempotent-Replayed: true`.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, Set,
};
use serde::Serialize;
use serde_json::{json, Value};

use crate::auth::tokens::sha256_hex;
use crate::auth::Principal;
use crate::context::Kernel;
use crate::entities::idempotency_key;
use crate::error::{is_unique_violation, AppError, AppResult, Code};

pub const HEADER: &str = "Idempotency-Key";
const MAX_KEY_LEN: usize = 255;

/// A claimed key, to be completed inside the write's transaction.
struct Claim {
    id: i64,
}

/// What a caller's `Idempotency-Key` applies to.
pub struct IdempotencyRequest {
    scope: String,
    key: String,
    request_hash: String,
}

impl IdempotencyRequest {
    /// Reads the header; `None` when the caller sent none. `route` names the operation
    /// (e.g. `POST /api/v1/users`), so one key cannot replay across operations.
    pub fn from_request(
        req: &actix_web::HttpRequest,
        principal: &Principal,
        route: &str,
        body: &impl Serialize,
    ) -> AppResult<Option<Self>> {
        let scope = format!("{}:{}:{route}", principal.tenant_id, principal.user_id);
        Ok(header_key(req)?.map(|key| Self::new(scope, key, body)))
    }

    /// The caller's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// SHA-256 of the body's canonical JSON: the same key with another body is a reuse.
    pub fn request_hash(&self) -> &str {
        &self.request_hash
    }

    pub fn new(scope: String, key: String, body: &impl Serialize) -> Self {
        // Canonical form: equal bodies hash equal whatever their key order.
        let canonical = serde_json::to_value(body)
            .map(|v| crate::canonical::to_string(&v))
            .unwrap_or_default();
        Self {
            scope,
            key,
            request_hash: sha256_hex(&canonical),
        }
    }
}

/// The request's `Idempotency-Key`, validated (1–255 visible ASCII characters).
pub fn header_key(req: &actix_web::HttpRequest) -> AppResult<Option<String>> {
    let Some(value) = req.headers().get(HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN)
        .map(|k| Some(k.to_string()))
        .ok_or_else(|| Code::InvalidIdempotencyKey.err())
}

/// What a write produced: the status and JSON body to send (and to store).
pub struct WriteOutcome {
    pub status: StatusCode,
    pub body: Value,
    /// Set when `body` carries a secret: what a replay may say instead (stored in
    /// place of the body).
    withheld: Option<Value>,
}

impl WriteOutcome {
    pub fn new(status: StatusCode, body: &impl Serialize) -> AppResult<Self> {
        Ok(Self {
            status,
            body: serde_json::to_value(body).map_err(AppError::internal)?,
            withheld: None,
        })
    }

    /// A body that shows a secret once. Only `public` (what names the thing made,
    /// without the secret) is stored; a replay answers 409 `SECRET_NOT_REPLAYED` with
    /// it in `details.created`.
    pub fn shown_once(
        status: StatusCode,
        body: &impl Serialize,
        public: &impl Serialize,
    ) -> AppResult<Self> {
        Ok(Self {
            withheld: Some(serde_json::to_value(public).map_err(AppError::internal)?),
            ..Self::new(status, body)?
        })
    }

    /// 200 with a JSON body.
    pub fn ok(body: Value) -> Self {
        Self {
            status: StatusCode::OK,
            body,
            withheld: None,
        }
    }

    /// 204, no body.
    pub fn no_content() -> Self {
        Self {
            status: StatusCode::NO_CONTENT,
            body: Value::Null,
            withheld: None,
        }
    }

    /// What the idempotency store keeps of this outcome.
    fn stored(&self) -> Value {
        match &self.withheld {
            Some(public) => json!({ "withheld": public }),
            None => json!({ "ok": self.body }),
        }
    }

    fn into_response(self) -> HttpResponse {
        if self.status == StatusCode::NO_CONTENT {
            return HttpResponse::NoContent().finish();
        }
        let mut response = HttpResponse::build(self.status);
        if self.withheld.is_some() {
            // A secret shown once must not be kept by a cache either.
            response.insert_header(crate::auth::api::NO_STORE);
        }
        response.json(self.body)
    }
}

/// Runs `work` in one transaction, idempotently when `idem` is given: the key and the
/// response are stored in that transaction, so a replay exists exactly when the effect
/// does.
pub async fn execute<F>(
    kernel: &Kernel,
    idem: Option<IdempotencyRequest>,
    work: F,
) -> AppResult<HttpResponse>
where
    F: AsyncFnOnce(&DatabaseTransaction) -> AppResult<WriteOutcome>,
{
    let txn = crate::db::begin_write(&kernel.db).await?;
    let err = match work(&txn).await {
        Ok(outcome) => {
            let Some(idem) = &idem else {
                txn.commit().await?;
                return Ok(outcome.into_response());
            };
            if keep(kernel, &txn, idem, outcome.status, &outcome.stored()).await? {
                txn.commit().await?;
                return Ok(outcome.into_response());
            }
            // The key is taken: this was a duplicate, and its effect goes.
            txn.rollback().await?;
            return answer_of_taken(kernel, idem).await;
        }
        Err(err) => {
            txn.rollback().await?;
            err
        }
    };
    let Some(idem) = idem else {
        return Err(err);
    };
    if retryable(&err) {
        // Not stored; but a duplicate of a request that succeeded answers that success.
        return match live_key(kernel, &idem).await? {
            Some(_) => answer_of_taken(kernel, &idem).await,
            None => Err(err),
        };
    }
    let stored = json!({ "error": err.to_stored() });
    if keep(kernel, &kernel.db, &idem, err.status, &stored).await? {
        return Err(err);
    }
    answer_of_taken(kernel, &idem).await
}

/// A refusal that can succeed when retried (fixed body, a dependency back) leaves the
/// key free; any other refusal is the key's answer from now on.
fn retryable(err: &AppError) -> bool {
    matches!(err.status.as_u16(), 400 | 422) || err.status.is_server_error()
}

/// Stores the key with its response; false when a live key is there already (an
/// expired one is taken over in the same statement). On PostgreSQL a concurrent
/// duplicate's insert waits for the first transaction, then finds its key.
async fn keep<C: sea_orm::ConnectionTrait>(
    kernel: &Kernel,
    db: &C,
    idem: &IdempotencyRequest,
    status: StatusCode,
    body: &Value,
) -> AppResult<bool> {
    use idempotency_key::Column as K;
    let now = chrono::Utc::now();
    let mut row = key_row(kernel, idem, "completed", now);
    row.response_status = Set(Some(status.as_u16() as i32));
    row.response_body = Set(Some(body.to_string()));
    let on_taken = OnConflict::columns([K::Scope, K::IdemKey])
        .update_columns([
            K::RequestHash,
            K::State,
            K::ResponseStatus,
            K::ResponseBody,
            K::CreatedAt,
            K::ExpiresAt,
        ])
        .action_and_where(Expr::col((idempotency_key::Entity, K::ExpiresAt)).lte(now))
        .to_owned();
    let written = idempotency_key::Entity::insert(row)
        .on_conflict(on_taken)
        .exec_without_returning(db)
        .await?;
    Ok(written == 1)
}

/// A new row for the key in `state`, living for `idempotency_ttl_secs` from `now`.
fn key_row(
    kernel: &Kernel,
    idem: &IdempotencyRequest,
    state: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> idempotency_key::ActiveModel {
    let ttl = chrono::Duration::seconds(kernel.config.idempotency_ttl_secs as i64);
    idempotency_key::ActiveModel {
        scope: Set(idem.scope.clone()),
        idem_key: Set(idem.key.clone()),
        request_hash: Set(idem.request_hash.clone()),
        state: Set(state.to_string()),
        created_at: Set(now),
        expires_at: Set(now + ttl),
        ..Default::default()
    }
}

/// The key's live (unexpired) row.
async fn live_key(
    kernel: &Kernel,
    idem: &IdempotencyRequest,
) -> AppResult<Option<idempotency_key::Model>> {
    Ok(idempotency_key::Entity::find()
        .filter(idempotency_key::Column::Scope.eq(&idem.scope))
        .filter(idempotency_key::Column::IdemKey.eq(&idem.key))
        .filter(idempotency_key::Column::ExpiresAt.gt(chrono::Utc::now()))
        .one(&kernel.db)
        .await?)
}

/// The answer to a request whose key another request holds: its stored response, or
/// why not (another body, still in flight).
async fn answer_of_taken(kernel: &Kernel, idem: &IdempotencyRequest) -> AppResult<HttpResponse> {
    let existing = live_key(kernel, idem)
        .await?
        .ok_or_else(|| in_progress(&idem.key))?;
    if existing.request_hash != idem.request_hash {
        return Err(reused(&idem.key));
    }
    if existing.state == "in_progress" {
        return Err(in_progress(&idem.key));
    }
    replay(&existing)
}

fn reused(key: &str) -> AppError {
    Code::IdempotencyKeyReused
        .err()
        .with_details(json!({ "idempotency_key": key }))
}

/// A write whose effect happens outside the database (a payment provider, an SMS
/// provider): with an `Idempotency-Key` the key is claimed first; `effect` runs with no
/// transaction open (an outside call must not hold the database — SQLite has one
/// connection); `record` then stores its result in one transaction together with the
/// response. A duplicate while the effect runs gets 409; a replay gets the stored
/// response. If the process dies between the effect and the record, the claim goes
/// stale and a retry runs the effect again, so `effect` must be idempotent itself (the
/// same order number at the provider, for one).
pub async fn execute_outside<T, E, R>(
    kernel: &Kernel,
    idem: Option<IdempotencyRequest>,
    effect: E,
    record: R,
) -> AppResult<HttpResponse>
where
    E: AsyncFnOnce() -> AppResult<T>,
    R: AsyncFnOnce(&DatabaseTransaction, T) -> AppResult<WriteOutcome>,
{
    let db = &kernel.db;
    let claim = match &idem {
        None => None,
        Some(idem) => match claim(kernel, idem).await? {
            Claimed::Fresh(claim) => Some(claim),
            Claimed::Replay(response) => return Ok(response),
        },
    };
    let err = match effect().await {
        Ok(value) => {
            let txn = crate::db::begin_write(db).await?;
            match record(&txn, value).await {
                Ok(outcome) => {
                    if let Some(claim) = &claim {
                        store(&txn, claim, outcome.status, &outcome.stored()).await?;
                    }
                    txn.commit().await?;
                    return Ok(outcome.into_response());
                }
                Err(err) => {
                    txn.rollback().await?;
                    err
                }
            }
        }
        Err(err) => err,
    };
    if let Some(claim) = claim {
        if retryable(&err) {
            idempotency_key::Entity::delete_by_id(claim.id)
                .exec(db)
                .await?;
        } else {
            let stored = json!({ "error": err.to_stored() });
            store(db, &claim, err.status, &stored).await?;
        }
    }
    Err(err)
}

enum Claimed {
    Fresh(Claim),
    Replay(HttpResponse),
}

async fn claim(kernel: &Kernel, idem: &IdempotencyRequest) -> AppResult<Claimed> {
    let db = &kernel.db;
    let now = chrono::Utc::now();
    let ttl = chrono::Duration::seconds(kernel.config.idempotency_ttl_secs as i64);
    let row = key_row(kernel, idem, "in_progress", now);
    match row.insert(db).await {
        Ok(saved) => return Ok(Claimed::Fresh(Claim { id: saved.id })),
        Err(e) if is_unique_violation(&e) => {}
        Err(e) => return Err(e.into()),
    }
    let existing = idempotency_key::Entity::find()
        .filter(idempotency_key::Column::Scope.eq(&idem.scope))
        .filter(idempotency_key::Column::IdemKey.eq(&idem.key))
        .one(db)
        .await?
        // Deleted between our insert and read (a failed first attempt): try once more.
        .ok_or_else(|| in_progress(&idem.key))?;

    if existing.expires_at <= now {
        // An expired key is a new key: take the row over.
        return take_over(db, &existing, idem, now, ttl).await;
    }
    if existing.request_hash != idem.request_hash {
        return Err(reused(&idem.key));
    }
    if existing.state == "in_progress" {
        let stale = chrono::Duration::seconds(kernel.config.idempotency_stale_secs as i64);
        if existing.created_at + stale <= now {
            // The first attempt died before finishing (its transaction never committed).
            return take_over(db, &existing, idem, now, ttl).await;
        }
        return Err(in_progress(&idem.key));
    }
    Ok(Claimed::Replay(replay(&existing)?))
}

async fn take_over(
    db: &DatabaseConnection,
    existing: &idempotency_key::Model,
    idem: &IdempotencyRequest,
    now: chrono::DateTime<chrono::Utc>,
    ttl: chrono::Duration,
) -> AppResult<Claimed> {
    // Conditional on the row being unchanged, so two takers cannot both win.
    let updated = idempotency_key::Entity::update_many()
        .col_expr(idempotency_key::Column::State, Expr::value("in_progress"))
        .col_expr(
            idempotency_key::Column::RequestHash,
            Expr::value(idem.request_hash.clone()),
        )
        .col_expr(
            idempotency_key::Column::ResponseStatus,
            Expr::value(Option::<i32>::None),
        )
        .col_expr(
            idempotency_key::Column::ResponseBody,
            Expr::value(Option::<String>::None),
        )
        .col_expr(idempotency_key::Column::CreatedAt, Expr::value(now))
        .col_expr(idempotency_key::Column::ExpiresAt, Expr::value(now + ttl))
        .filter(idempotency_key::Column::Id.eq(existing.id))
        .filter(idempotency_key::Column::CreatedAt.eq(existing.created_at))
        .exec(db)
        .await?;
    if updated.rows_affected == 1 {
        Ok(Claimed::Fresh(Claim { id: existing.id }))
    } else {
        Err(in_progress(&idem.key))
    }
}

fn in_progress(key: &str) -> AppError {
    Code::IdempotencyKeyInProgress
        .err()
        .with_details(json!({ "idempotency_key": key, "retry_after": 1 }))
}

async fn store<C: sea_orm::ConnectionTrait>(
    db: &C,
    claim: &Claim,
    status: StatusCode,
    body: &Value,
) -> AppResult<()> {
    idempotency_key::Entity::update_many()
        .col_expr(idempotency_key::Column::State, Expr::value("completed"))
        .col_expr(
            idempotency_key::Column::ResponseStatus,
            Expr::value(status.as_u16() as i32),
        )
        .col_expr(
            idempotency_key::Column::ResponseBody,
            Expr::value(body.to_string()),
        )
        .filter(idempotency_key::Column::Id.eq(claim.id))
        .exec(db)
        .await?;
    Ok(())
}

/// The stored answer, marked `Idempotent-Replayed: true` (refusals too: the envelope
/// middleware renders them and keeps the header).
fn replay(row: &idempotency_key::Model) -> AppResult<HttpResponse> {
    let status = row
        .response_status
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
        .ok_or_else(|| AppError::internal("stored idempotent response has no status"))?;
    let body: Value = row
        .response_body
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(AppError::internal)?
        .unwrap_or(Value::Null);
    let refusal = |err: AppError| actix_web::ResponseError::error_response(&err);
    let mut response = if let Some(error) = body.get("error") {
        refusal(AppError::from_stored(status, error))
    } else if let Some(created) = body.get("withheld") {
        refusal(
            Code::SecretNotReplayed
                .err()
                .with_details(json!({ "idempotency_key": row.idem_key, "created": created })),
        )
    } else {
        WriteOutcome::new(status, &body.get("ok").cloned().unwrap_or(Value::Null))?.into_response()
    };
    response.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static("idempotent-replayed"),
        actix_web::http::header::HeaderValue::from_static("true"),
    );
    Ok(response)
}

/// Deletes keys past their retention; run on a schedule.
pub async fn purge_expired(db: &DatabaseConnection) -> AppResult<u64> {
    let deleted = idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::ExpiresAt.lt(chrono::Utc::now()))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}

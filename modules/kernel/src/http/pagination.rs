//! Cursor pagination: `?limit=&cursor=` in, `{data, next_cursor, has_more}` out.
//!
//! The cursor is opaque to clients (base64url of the last row's key); lists are ordered
//! by a unique, increasing id, so a page never repeats or skips a row when rows are
//! added between calls.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{AppResult, Code};

pub const DEFAULT_LIMIT: u64 = 20;
pub const MAX_LIMIT: u64 = 100;

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 100. Default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A validated page request: fetch `limit + 1` rows after `after` to learn `has_more`.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub limit: u64,
    pub after: Option<i64>,
}

impl PageQuery {
    pub fn resolve(&self) -> AppResult<PageRequest> {
        let limit = match self.limit {
            Some(0) => {
                return Err(Code::InvalidQuery.err().with_details(
                    serde_json::json!({ "field": "limit", "min": 1, "max": MAX_LIMIT }),
                ))
            }
            Some(n) if n > MAX_LIMIT => {
                return Err(Code::InvalidQuery.err().with_details(
                    serde_json::json!({ "field": "limit", "min": 1, "max": MAX_LIMIT }),
                ))
            }
            Some(n) => n,
            None => DEFAULT_LIMIT,
        };
        let after = match self.cursor.as_deref() {
            None | Some("") => None,
            Some(c) => Some(decode_cursor(c)?),
        };
        Ok(PageRequest { limit, after })
    }
}

/// Which way a list runs along its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    OldestFirst,
    NewestFirst,
}

impl PageRequest {
    /// This page of `select`, ordered by `id` (a unique, increasing column): the rows
    /// past the cursor, one more than asked to learn whether more follow. `key` reads
    /// a row's id for the next cursor.
    pub async fn fetch<E: EntityTrait>(
        self,
        select: Select<E>,
        id: E::Column,
        order: Order,
        db: &impl ConnectionTrait,
        key: impl Fn(&E::Model) -> i64,
    ) -> AppResult<Page<E::Model>> {
        let select = match (self.after, order) {
            (None, _) => select,
            (Some(after), Order::OldestFirst) => select.filter(id.gt(after)),
            (Some(before), Order::NewestFirst) => select.filter(id.lt(before)),
        };
        let select = match order {
            Order::OldestFirst => select.order_by_asc(id),
            Order::NewestFirst => select.order_by_desc(id),
        };
        let rows = select.limit(self.limit + 1).all(db).await?;
        Ok(Page::from_rows(rows, self, key))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` fetched rows; `key` gives a row's id.
    pub fn from_rows(mut rows: Vec<T>, req: PageRequest, key: impl Fn(&T) -> i64) -> Self {
        let has_more = rows.len() as u64 > req.limit;
        rows.truncate(req.limit as usize);
        let next_cursor = if has_more {
            rows.last().map(|r| encode_cursor(key(r)))
        } else {
            None
        };
        Page {
            data: rows,
            next_cursor,
            has_more,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            data: self.data.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
            has_more: self.has_more,
        }
    }
}

pub fn encode_cursor(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{id}"))
}

pub fn decode_cursor(cursor: &str) -> AppResult<i64> {
    let invalid = || {
        Code::InvalidCursor
            .err()
            .with_details(serde_json::json!({ "field": "cursor" }))
    };
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(raw).map_err(|_| invalid())?;
    text.strip_prefix("v1:")
        .and_then(|n| n.parse::<i64>().ok())
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        assert_eq!(decode_cursor(&encode_cursor(42)).unwrap(), 42);
        assert_eq!(decode_cursor("!!!").unwrap_err().code, "INVALID_CURSOR");
        assert_eq!(
            decode_cursor(&URL_SAFE_NO_PAD.encode("v2:1"))
                .unwrap_err()
                .code,
            "INVALID_CURSOR"
        );
    }

    #[test]
    fn limit_outside_1_to_100_is_rejected() {
        let q = PageQuery {
            limit: Some(1000),
            cursor: None,
        };
        assert_eq!(q.resolve().unwrap_err().code, "INVALID_QUERY");
        let q = PageQuery {
            limit: Some(100),
            cursor: None,
        };
        assert_eq!(q.resolve().unwrap().limit, 100);
        let q = PageQuery {
            limit: Some(0),
            cursor: None,
        };
        assert!(q.resolve().is_err());
        assert_eq!(PageQuery::default().resolve().unwrap().limit, DEFAULT_LIMIT);
    }

    #[test]
    fn has_more_comes_from_the_extra_row() {
        let req = PageRequest {
            limit: 2,
            after: None,
        };
        let page = Page::from_rows(vec![1, 2, 3], req, |r| *r);
        assert_eq!(page.data, vec![1, 2]);
        assert!(page.has_more);
        assert_eq!(
            decode_cursor(page.next_cursor.as_deref().unwrap()).unwrap(),
            2
        );
        let page = Page::from_rows(vec![1, 2], req, |r| *r);
        assert!(!page.has_more);
        assert!(page.next_cursor.is_none());
    }
}

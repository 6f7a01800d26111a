//! Cursor pagination: `?cursor=&limit=`. A cursor is an opaque base64url token encoding the
//! sort key of the last item returned; the next page starts strictly after it, so pages are
//! stable while rows are inserted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::AppError;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

/// The paging part of a list query.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Items per page, 1–100 (default 20).
    pub limit: Option<i64>,
}

impl PageParams {
    /// The validated page size.
    pub fn limit(&self) -> Result<i64, AppError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(AppError::validation("limit", format!("must be between 1 and {MAX_LIMIT}"))),
        }
    }

    /// Decodes the cursor into its sort key.
    pub fn decode<K: DeserializeOwned>(&self) -> Result<Option<K>, AppError> {
        let Some(raw) = &self.cursor else { return Ok(None) };
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| AppError::validation("cursor", "malformed cursor"))?;
        serde_json::from_slice(&bytes).map(Some).map_err(|_| AppError::validation("cursor", "malformed cursor"))
    }
}

/// One page of results.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only signals that more exist.
    pub fn from_rows<K: Serialize>(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> K) -> Page<T> {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more { rows.last().map(|last| encode(&key(last))) } else { None };
        Page { items: rows, next_cursor }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next_cursor: self.next_cursor }
    }
}

fn encode<K: Serialize>(key: &K) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_limits_are_checked() {
        let page = Page::from_rows(vec![1, 2, 3], 2, |n| *n);
        assert_eq!(page.items, vec![1, 2]);
        let params = PageParams { cursor: page.next_cursor, limit: Some(2) };
        assert_eq!(params.decode::<i32>().unwrap(), Some(2));
        assert!(PageParams { cursor: None, limit: Some(0) }.limit().is_err());
        assert!(PageParams { cursor: Some("!!".into()), limit: None }.decode::<i32>().is_err());
    }
}

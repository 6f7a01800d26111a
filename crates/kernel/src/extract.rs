//! Extractors that turn every malformed request into a clear problem response: JSON bodies
//! (wrong content type → 415, syntax → 400, wrong shape → 422 naming the field), path
//! parameters (bad id → 422 naming the parameter) and query strings.

use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// A JSON request body / response.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(AppError::UnsupportedMediaType);
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(_) => AppError::PayloadTooLarge,
            other => AppError::bad_request("malformed_body", other.body_text()),
        })?;
        parse_json(&bytes).map(Json)
    }
}

/// Deserializes JSON, naming the failing field on a shape error.
///
/// Two things JSON Schema (and so the OpenAPI description) allows are settled here for
/// every body: a whole number written as a float (`3.0` is an integer to JSON Schema and to
/// many clients' serializers) is taken as that integer, and a timestamp on a leap second
/// (`…T23:59:60Z`, which chrono would keep and write back as `:60`) is refused as a 422
/// naming the field. Both only cost anything when the body needs them.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let value = match deserialize(bytes) {
        Err((_, e)) if e.to_string().starts_with("invalid type: floating point") => {
            let mut v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| problem(".".into(), e))?;
            integral_floats_to_integers(&mut v);
            let normalized = serde_json::to_vec(&v).map_err(AppError::from)?;
            deserialize(&normalized).map_err(|(path, e)| problem(path, e))?
        }
        other => other.map_err(|(path, e)| problem(path, e))?,
    };
    if bytes.windows(3).any(|w| w == b":60") {
        let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| problem(".".into(), e))?;
        if let Some(field) = leap_second_at(&v, String::new()) {
            return Err(AppError::validation(field, "a leap second (:60) is not a valid time here; use :59"));
        }
    }
    Ok(value)
}

fn deserialize<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, (String, serde_json::Error)> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| (e.path().to_string(), e.into_inner()))
}

fn problem(path: String, inner: serde_json::Error) -> AppError {
    match inner.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            AppError::bad_request("malformed_json", format!("malformed JSON: {inner}"))
        }
        _ => {
            let field = if path == "." { missing_field(&inner.to_string()) } else { path };
            AppError::validation(field, strip_position(&inner.to_string()))
        }
    }
}

fn integral_floats_to_integers(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9.0e15
            {
                // Below 2^53 every whole f64 is exact, so nothing is rounded.
                *v = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_to_integers),
        Value::Object(map) => map.values_mut().for_each(integral_floats_to_integers),
        _ => {}
    }
}

/// The JSON path of the first string that is an RFC 3339 timestamp on a leap second.
fn leap_second_at(v: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    match v {
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .filter(|t| chrono::Timelike::nanosecond(t) >= 1_000_000_000)
            .map(|_| if path.is_empty() { "body".to_string() } else { path }),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, x)| leap_second_at(x, format!("{path}[{i}]"))),
        Value::Object(map) => {
            map.iter().find_map(|(k, x)| leap_second_at(x, if path.is_empty() { k.clone() } else { format!("{path}.{k}") }))
        }
        _ => None,
    }
}

/// `missing field `name`` errors happen at the parent level; report the field itself.
fn missing_field(msg: &str) -> String {
    msg.split('`').nth(1).filter(|_| msg.starts_with("missing field")).unwrap_or("body").to_string()
}

fn strip_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Path parameters; a malformed id is a 422 naming the parameter.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                let msg = e.body_text();
                let field = msg.split('`').nth(1).unwrap_or("path").to_string();
                Err(AppError::validation(field, "malformed path parameter (expected a UUID)"))
            }
            Err(other) => Err(AppError::internal(other.body_text())),
        }
    }
}

/// Query string; a bad value is a 422 naming the parameter.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(Query).map_err(|e| {
            let path = e.path().to_string();
            let msg = e.into_inner().to_string();
            let field = if path == "." { missing_field(&msg) } else { path };
            AppError::validation(field, msg)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Order {
        quantity: i64,
        at: Option<chrono::DateTime<chrono::Utc>>,
        #[serde(default)]
        lines: Vec<Line>,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Line {
        price: i64,
    }

    fn field(e: AppError) -> String {
        match e {
            AppError::Validation { field, .. } => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn whole_floats_are_integers_and_fractions_are_not() {
        let o: Order = parse_json(br#"{"quantity": 3.0, "lines": [{"price": 2500.0}]}"#).unwrap();
        assert_eq!((o.quantity, o.lines[0].price), (3, 2500));
        assert_eq!(field(parse_json::<Order>(br#"{"quantity": 3.5}"#).unwrap_err()), "quantity");
        assert_eq!(field(parse_json::<Order>(br#"{"quantity": 1, "lines": [{"price": 0.25}]}"#).unwrap_err()), "lines[0].price");
    }

    #[test]
    fn leap_seconds_are_refused_naming_the_field() {
        let e = parse_json::<Order>(br#"{"quantity": 1, "at": "2030-06-30T23:59:60Z"}"#).unwrap_err();
        assert_eq!(field(e), "at");
        // ":60" elsewhere is fine.
        let o: Order = parse_json(br#"{"quantity": 1, "at": "2030-06-30T23:59:59Z"}"#).unwrap();
        assert!(o.at.is_some());
        assert!(parse_json::<serde_json::Value>(br#"{"note": "doors at 19:60?"}"#).is_ok());
    }
}

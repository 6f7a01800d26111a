//! The finishing pass over the generated OpenAPI document: what the HTTP edge does for every
//! operation alike, written once here instead of in each of a hundred annotations.
//!
//! * Every error answer is RFC 9457 `application/problem+json` (the annotations name only the
//!   `Problem` body; utoipa would label it `application/json`).
//! * The statuses the shared layers can produce are documented on every operation they apply
//!   to: `401` (credentials sent but not valid, or required), `403` (a member below the role),
//!   `404`/`422` where a path names a resource, `422` for a malformed query, `400`/`413`/`415`/
//!   `422` where there is a body, `409`/`422` from the idempotency layer, `429` from the rate
//!   limiter, `500` and `503` (timeout, unavailable) from the edge.
//! * Path ids are UUIDs, so their parameters say `format: uuid` (a non-UUID is refused `422`).
//! * POSTs outside `/api/auth/` and API-key creation take an optional `Idempotency-Key` header.
//!
//! `docs/api.md` states these conventions for client authors; the schema fuzzer in CI
//! (`.ci/fuzz/`) checks that the server keeps to them.

use serde_json::{Map, Value, json};

const PROBLEM: &str = "#/components/schemas/Problem";
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];
/// Path parameters that are not ids.
const NON_ID_PATH_PARAMS: [&str; 2] = ["key", "resource"];
/// Probes and scrapes: not rate limited, no credentials, nothing to look up.
const PROBES: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

fn description(status: u16) -> &'static str {
    match status {
        400 => "Malformed request body (not JSON, or not the documented shape)",
        401 => "Credentials missing, expired, revoked or malformed",
        403 => "Signed in, but the role in the organization does not allow this",
        404 => "No such resource, or one of an organization the caller does not belong to",
        409 => "Conflict with the resource's state, or an `Idempotency-Key` reused while its first request is running",
        413 => "Request body larger than `server.body_limit_bytes`",
        415 => "Request body is not `application/json`",
        422 => "Invalid input; `field` names the offending parameter or JSON path",
        429 => "Rate limited; retry after `Retry-After` seconds",
        500 => "Internal error; quote `request_id` when reporting it",
        503 => "Timed out (`code: timeout`) or a dependency is unavailable",
        _ => "Error",
    }
}

/// The list envelope's `limit` and `cursor` mean the same on every list.
/// A query parameter is present or absent, never JSON `null`: utoipa writes `Option<T>` as
/// `type: [T, "null"]`, which would invite clients (and fuzzers) to send the text `null`.
fn not_null(p: &mut Value) {
    if let Some(types) = p.pointer_mut("/schema/type").and_then(Value::as_array_mut) {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types[0].clone();
            p["schema"]["type"] = only;
        }
    }
}

fn page_param(p: &mut Value) {
    let name = p.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
    let Some(schema) = p.get_mut("schema").and_then(Value::as_object_mut) else { return };
    match name.as_str() {
        "limit" => {
            schema.insert("minimum".into(), json!(1));
            schema.insert("maximum".into(), json!(kernel::pagination::MAX_LIMIT));
        }
        "cursor" => {
            schema.insert("pattern".into(), json!("^[A-Za-z0-9_-]+$"));
        }
        _ => {}
    }
}

fn problem_content() -> Value {
    json!({ "application/problem+json": { "schema": { "$ref": PROBLEM } } })
}

/// Applies the conventions above to `doc` (the serialized OpenAPI document); `exempt`: the
/// routes `Idempotency-Key` does not apply to.
pub fn finish(doc: &mut Value, exempt: &kernel::idempotency::Exemptions) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for method in METHODS {
            if let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) {
                finish_operation(path, method, op, exempt);
            }
        }
    }
}

fn finish_operation(path: &str, method: &str, op: &mut Map<String, Value>, exempt: &kernel::idempotency::Exemptions) {
    let probe = PROBES.contains(&path);
    let mut path_ids = false;
    let mut query = false;
    if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for p in params.iter_mut() {
            match p.get("in").and_then(Value::as_str) {
                Some("path") => {
                    let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
                    if !NON_ID_PATH_PARAMS.contains(&name)
                        && let Some(schema) = p.get_mut("schema").and_then(Value::as_object_mut)
                        && schema.get("type") == Some(&json!("string"))
                    {
                        schema.entry("format").or_insert(json!("uuid"));
                        path_ids = true;
                    }
                }
                Some("query") => {
                    query = true;
                    page_param(p);
                    not_null(p);
                }
                _ => {}
            }
        }
    }
    let body = op.contains_key("requestBody");
    let secured = op.get("security").and_then(Value::as_array).is_some_and(|s| !s.is_empty());
    let idempotent_post = method == "post" && !exempt.covers(path);
    if idempotent_post {
        let params = op.entry("parameters").or_insert_with(|| json!([]));
        // An operation that declares the header itself (payments: required) keeps its own.
        let declared = |params: &Vec<Value>| {
            params
                .iter()
                .any(|p| p["in"] == "header" && p["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case("idempotency-key")))
        };
        if let Some(params) = params.as_array_mut().filter(|p| !declared(p)) {
            params.push(json!({
                "name": "Idempotency-Key",
                "in": "header",
                "required": false,
                "description": "Makes a retry safe: a repeat with the same key and body (by the same caller, within 24 hours) returns the stored response instead of acting again.",
                "schema": { "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$" },
            }));
        }
    }

    let mut add: Vec<u16> = vec![500];
    if !probe {
        add.extend([429, 503]);
    }
    if path.starts_with("/api/") && path != "/api/openapi.json" {
        add.push(401);
    }
    if secured {
        add.push(403);
    }
    if path_ids {
        add.extend([404, 422]);
    }
    if query {
        add.push(422);
    }
    if body {
        add.extend([400, 413, 415, 422]);
    }
    if idempotent_post {
        add.extend([409, 422]);
    }

    let responses = op.entry("responses").or_insert_with(|| json!({}));
    let Some(responses) = responses.as_object_mut() else { return };
    for status in add {
        responses
            .entry(status.to_string())
            .or_insert_with(|| json!({ "description": description(status), "content": problem_content() }));
    }
    for (status, response) in responses.iter_mut() {
        if !status.starts_with('4') && !status.starts_with('5') {
            continue;
        }
        let Some(response) = response.as_object_mut() else { continue };
        if response.get("description").and_then(Value::as_str).is_none_or(str::is_empty) {
            let code = status.parse().unwrap_or(0);
            response.insert("description".into(), json!(description(code)));
        }
        let content = response.entry("content").or_insert_with(problem_content);
        if let Some(content) = content.as_object_mut()
            && let Some(json_body) = content.remove("application/json")
        {
            content.insert("application/problem+json".into(), json_body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_become_problem_documents_and_shared_statuses_are_added() {
        let mut doc = json!({ "paths": { "/api/things/{id}": { "put": {
            "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
            "requestBody": { "content": { "application/json": { "schema": {} } } },
            "security": [{ "bearer": [] }],
            "responses": {
                "200": { "description": "ok", "content": { "application/json": { "schema": {} } } },
                "409": { "description": "taken", "content": { "application/json": { "schema": { "$ref": PROBLEM } } } }
            }
        } } } });
        finish(&mut doc, &Default::default());
        let op = &doc["paths"]["/api/things/{id}"]["put"];
        assert_eq!(op["parameters"][0]["schema"]["format"], "uuid");
        assert!(op["responses"]["200"]["content"]["application/json"].is_object(), "successes keep their type");
        assert_eq!(op["responses"]["409"]["description"], "taken", "a handler's own description stays");
        assert!(op["responses"]["409"]["content"]["application/json"].is_null());
        for status in ["400", "401", "403", "404", "409", "413", "415", "422", "429", "500", "503"] {
            assert_eq!(op["responses"][status]["content"]["application/problem+json"]["schema"]["$ref"], PROBLEM, "{status}");
        }
    }

    #[test]
    fn posts_take_an_idempotency_key_except_where_answers_carry_credentials() {
        let mut doc = json!({ "paths": {
            "/api/bookings": { "post": { "responses": {} } },
            "/api/auth/login": { "post": { "responses": {} } },
            "/healthz": { "get": { "responses": {} } }
        } });
        let exempt = kernel::idempotency::Exemptions::default();
        exempt.add("/api/auth/*");
        finish(&mut doc, &exempt);
        assert_eq!(doc["paths"]["/api/bookings"]["post"]["parameters"][0]["name"], "Idempotency-Key");
        assert!(doc["paths"]["/api/auth/login"]["post"]["parameters"].is_null());
        let probe = &doc["paths"]["/healthz"]["get"]["responses"];
        assert!(probe["429"].is_null() && probe["401"].is_null() && probe["500"].is_object());
    }
}

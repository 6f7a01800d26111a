//! The template environment: the embedded templates, `t(key, …)` for messages, `asset(name)`
//! for static file URLs, and filters that format in the page's language (`when` for a local
//! time with its offset). Templates are HTML-escaped automatically.

use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use fluent_bundle::FluentValue;
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, ErrorKind, State};

use crate::assets::Assets;
use crate::i18n::{I18n, Locale};

const TEMPLATES: [(&str, &str); 24] = [
    ("account.html", include_str!("../templates/account.html")),
    ("authenticate.html", include_str!("../templates/authenticate.html")),
    ("base.html", include_str!("../templates/base.html")),
    ("booking.html", include_str!("../templates/booking.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("event.html", include_str!("../templates/event.html")),
    ("forgot.html", include_str!("../templates/forgot.html")),
    ("home.html", include_str!("../templates/home.html")),
    ("invitation.html", include_str!("../templates/invitation.html")),
    ("manage/booking.html", include_str!("../templates/manage/booking.html")),
    ("manage/dashboard.html", include_str!("../templates/manage/dashboard.html")),
    ("manage/event.html", include_str!("../templates/manage/event.html")),
    ("manage/home.html", include_str!("../templates/manage/home.html")),
    ("manage/orders.html", include_str!("../templates/manage/orders.html")),
    ("manage/payments.html", include_str!("../templates/manage/payments.html")),
    ("manage/team.html", include_str!("../templates/manage/team.html")),
    ("pdf_pending.html", include_str!("../templates/pdf_pending.html")),
    ("register.html", include_str!("../templates/register.html")),
    ("reset.html", include_str!("../templates/reset.html")),
    ("scanner.html", include_str!("../templates/scanner.html")),
    ("sessions.html", include_str!("../templates/sessions.html")),
    ("sign_in.html", include_str!("../templates/sign_in.html")),
    ("tickets.html", include_str!("../templates/tickets.html")),
    ("waitlist.html", include_str!("../templates/waitlist.html")),
];

fn locale_of(state: &State, i18n: &I18n) -> Locale {
    state.lookup("locale").and_then(|v| v.as_str().and_then(|c| i18n.locale(c))).unwrap_or(Locale::FALLBACK)
}

pub fn environment(i18n: Arc<I18n>, assets: Arc<Assets>) -> anyhow::Result<Environment<'static>> {
    let mut env = Environment::new();
    // Printing a misspelt variable is an error (found by the tests), not a silently empty spot
    // on a page; `{% if x %}` may still ask about a value a page leaves out.
    env.set_undefined_behavior(minijinja::UndefinedBehavior::SemiStrict);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)?;
    }
    let messages = i18n.clone();
    env.add_function("t", move |state: &State, key: &str, kwargs: Kwargs| -> Result<String, Error> {
        let mut args: Vec<(&str, FluentValue)> = Vec::new();
        let names: Vec<&str> = kwargs.args().collect();
        for name in names {
            let value: Value = kwargs.get(name)?;
            let value = match value.as_i64() {
                Some(n) => FluentValue::from(n),
                None => FluentValue::from(value.to_string()),
            };
            args.push((name, value));
        }
        kwargs.assert_all_used()?;
        Ok(messages.text(locale_of(state, &messages), key, &args))
    });
    // Asset paths are ours and hold only `[a-z0-9./]`: safe as they are, and readable in
    // the page source (escaping would turn every `/` into `&#x2f;`).
    env.add_function("asset", move |name: &str| -> Result<Value, Error> {
        assets
            .url(name)
            .map(Value::from_safe_string)
            .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, format!("no asset `{name}`")))
    });
    let dates = i18n;
    env.add_filter("when", move |state: &State, local: &str| -> Result<String, Error> {
        let t = chrono::DateTime::parse_from_rfc3339(local)
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("`{local}` is not RFC 3339: {e}")))?;
        Ok(dates.datetime(locale_of(state, &dates), t))
    });
    Ok(env)
}

/// Renders `template` with `ctx` as an HTML response; a template error is a logged 500 page
/// rather than a half-written one.
pub fn html(env: &Environment<'static>, status: StatusCode, template: &str, ctx: Value) -> Response {
    match env.get_template(template).and_then(|t| t.render(ctx)) {
        Ok(body) => (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response(),
        Err(e) => {
            tracing::error!(template, error = %format!("{e:#}"), "template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "internal error while rendering this page",
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_file_is_embedded() {
        fn walk(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, base, out);
                } else {
                    out.push(path.strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/"));
                }
            }
        }
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut files = Vec::new();
        walk(&base, &base, &mut files);
        for f in files {
            assert!(TEMPLATES.iter().any(|(name, _)| *name == f), "templates/{f} is not in TEMPLATES");
        }
    }

    #[test]
    fn every_page_renders_with_an_empty_listing() {
        let i18n = Arc::new(I18n::load().unwrap());
        let env = environment(i18n, Arc::new(Assets::load())).unwrap();
        let ctx = serde_json::json!({
            "locale": "de", "path": "/", "canonical": null, "languages": [{"code": "en", "name": "English"}],
            "query": {"q": null, "city": null, "category": null, "from": null, "to": null},
            "events": [], "next_url": null,
        });
        let html = env.get_template("home.html").unwrap().render(minijinja::Value::from_serialize(&ctx));
        let html = html.unwrap_or_else(|e| panic!("{e:#}"));
        assert!(html.contains("Kommende Veranstaltungen"), "{html}");
    }
}

//! A browser for page tests: keeps cookies like one (only what `Set-Cookie` says, per
//! name), does not follow redirects (tests look at them), and reads forms' hidden fields so
//! a test submits what the page rendered — CSRF token and idempotency key included.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};

use super::TestApp;

pub struct Browser<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
    pub language: String,
    /// The last page's HTML.
    pub html: String,
}

/// One answer: status, headers, body, and where a redirect points.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    pub location: Option<String>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Browser<'a> {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { app, client, cookies: BTreeMap::new(), language: "en".into(), html: String::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn remember(&mut self, headers: &HeaderMap) {
        for set in headers.get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()) {
            let pair = set.split(';').next().unwrap_or("");
            let Some((name, value)) = pair.split_once('=') else { continue };
            if value.is_empty() || set.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
    }

    async fn answer(&mut self, resp: reqwest::Response) -> Answer {
        let status = resp.status();
        let headers = resp.headers().clone();
        self.remember(&headers);
        let location = headers.get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = resp.text().await.unwrap_or_default();
        if headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|c| c.starts_with("text/html")) {
            self.html = body.clone();
        }
        Answer { status, headers, body, location }
    }

    /// `path` may be absolute (a redirect's target) or start with `/`.
    fn url(&self, path: &str) -> String {
        if path.starts_with("http") { path.to_string() } else { self.app.url(path) }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let resp = self
            .client
            .get(self.url(path))
            .header("accept", "text/html")
            .header("accept-language", &self.language)
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.answer(resp).await
    }

    /// GET that must answer 200; returns the HTML.
    pub async fn open(&mut self, path: &str) -> String {
        let a = self.get(path).await;
        assert_eq!(a.status, StatusCode::OK, "GET {path}: {}", a.body);
        a.body
    }

    /// POSTs a form exactly as given.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let resp = self
            .client
            .post(self.url(path))
            .header("accept", "text/html")
            .header("accept-language", &self.language)
            .header("cookie", self.cookie_header())
            .header("origin", self.app.base.clone())
            .form(fields)
            .send()
            .await
            .unwrap();
        self.answer(resp).await
    }

    /// Submits the last page's form whose `action` is `action`: its hidden fields (CSRF
    /// token, idempotency key, …) plus `fields`.
    pub async fn submit(&mut self, action: &str, fields: &[(&str, &str)]) -> Answer {
        let hidden = form_hidden(&self.html, action).unwrap_or_else(|| panic!("no form posting to {action} in:\n{}", self.html));
        let mut all: Vec<(String, String)> = hidden;
        for (k, v) in fields {
            all.retain(|(name, _)| name != k);
            all.push((k.to_string(), v.to_string()));
        }
        let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.post(action, &pairs).await
    }

    /// Follows a redirect answer to its page.
    pub async fn follow(&mut self, a: &Answer) -> String {
        assert!(a.status.is_redirection(), "expected a redirect, got {}: {}", a.status, a.body);
        let to = a.location.clone().unwrap();
        self.open(&to).await
    }
}

/// The hidden inputs of the form posting to `action` (HTML-escaped values decoded).
pub fn form_hidden(html: &str, action: &str) -> Option<Vec<(String, String)>> {
    let start = html.find(&format!("action=\"{action}\""))?;
    let end = html[start..].find("</form>").map(|e| start + e)?;
    let form = &html[start..end];
    let mut fields = Vec::new();
    for tag in form.split("<input").skip(1) {
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        if !tag.contains("type=\"hidden\"") {
            continue;
        }
        let attr = |name: &str| {
            let i = tag.find(&format!("{name}=\""))? + name.len() + 2;
            Some(unescape(&tag[i..i + tag[i..].find('"')?]))
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            fields.push((n, v));
        }
    }
    Some(fields)
}

/// Text as a browser reads it from HTML (minijinja escapes `/` and quotes).
pub fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

//! Static files (CSS, JavaScript) embedded in the binary. Each is served under a name that
//! carries a hash of its content (`app.3f2a1b9c0d.css`), so it can be cached for a year
//! (`immutable`): a changed file is a new name, and pages link to whatever is current.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::Web;

/// (logical name, content type, bytes).
const FILES: [(&str, &str, &[u8]); 5] = [
    ("icon.svg", "image/svg+xml", include_bytes!("../assets/icon.svg")),
    ("app.css", "text/css; charset=utf-8", include_bytes!("../assets/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../assets/app.js")),
    ("scanner.js", "text/javascript; charset=utf-8", include_bytes!("../assets/scanner.js")),
    // jsQR 1.4.0 (Apache-2.0, npm `jsqr`, `dist/jsQR.js`): decodes QR codes from camera
    // frames where the browser has no `BarcodeDetector`. Licence: assets/vendor/jsQR.LICENSE.
    ("jsqr.js", "text/javascript; charset=utf-8", include_bytes!("../assets/vendor/jsQR.js")),
];

/// The scanner's service worker: served from the root under a fixed name (a worker's
/// address must not change, and its scope is the folder it is served from), never cached
/// by HTTP so a new version is picked up on the next visit.
const SERVICE_WORKER: &[u8] = include_bytes!("../assets/sw.js");

/// `/favicon.ico`, which browsers ask for whatever the page links: the same icon.
pub async fn favicon() -> Response {
    (
        [(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=86400")],
        include_bytes!("../assets/icon.svg").as_slice(),
    )
        .into_response()
}

pub async fn service_worker() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], SERVICE_WORKER)
        .into_response()
}

pub struct Assets {
    /// Logical name → served name.
    names: HashMap<&'static str, String>,
    /// Served name → (content type, bytes).
    files: HashMap<String, (&'static str, &'static [u8])>,
}

impl Assets {
    pub fn load() -> Assets {
        let mut names = HashMap::new();
        let mut files = HashMap::new();
        for (name, content_type, bytes) in FILES {
            let hash = hex::encode(&Sha256::digest(bytes)[..5]);
            let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
            let served = format!("{stem}.{hash}.{ext}");
            names.insert(name, served.clone());
            files.insert(served, (content_type, bytes));
        }
        Assets { names, files }
    }

    /// The URL path of `name` (`app.css` → `/assets/app.3f2a1b9c0d.css`); templates call it.
    pub fn url(&self, name: &str) -> Option<String> {
        self.names.get(name).map(|served| format!("/assets/{served}"))
    }
}

/// `GET /assets/{file}`: an embedded file by its hashed name.
pub async fn serve(State(web): State<std::sync::Arc<Web>>, Path(file): Path<String>) -> Response {
    match web.assets.files.get(&file) {
        Some((content_type, bytes)) => {
            ([(header::CONTENT_TYPE, *content_type), (header::CACHE_CONTROL, "public, max-age=31536000, immutable")], *bytes)
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, "no-store")], "not found").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_content_hash() {
        let assets = Assets::load();
        let css = assets.url("app.css").unwrap();
        assert!(css.starts_with("/assets/app.") && css.ends_with(".css") && css.len() == "/assets/app..css".len() + 10, "{css}");
        assert!(assets.files.contains_key(css.trim_start_matches("/assets/")));
        assert_eq!(assets.url("missing.css"), None);
    }
}

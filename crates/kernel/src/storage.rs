//! Object storage for generated files (ticket PDFs, exports) behind one trait, [`ObjectStore`].
//!
//! The engine follows `storage.url`: unset or `file://<dir>` selects [`LocalStore`], a directory
//! (by default `data_dir/files`) whose files the app serves itself through signed, expiring
//! links. An S3-compatible engine (presigned URLs served by the store) will slot in behind the
//! same trait; until then any other scheme fails start-up.
//!
//! **Keys** are relative paths of `/`-separated segments made of `A-Z a-z 0-9 . _ -`, no
//! segment empty or starting with `.` (so no `..`, no hidden files, no absolute paths), at most
//! [`MAX_KEY_LEN`] bytes: `tickets/<org>/<ticket>.pdf`. The rule is the same for every engine,
//! so a key that works locally works on S3 too.
//!
//! **Local layout:** `<root>/objects/<key>` holds the bytes, `<root>/meta/<key>` the content
//! type, `<root>/tmp/` files being written. A put writes each file under `tmp/`, syncs it and
//! renames it into place (content type first, then the bytes), so a reader never sees a
//! partial file. Without a content-type file the type is guessed from the extension.
//!
//! **Signed links:** `{server.public_url}/api/files/signed/{key}?expires=<unix>&sig=<hex>`,
//! the key percent-encoded as one path segment (`/` → `%2F`), `sig` =
//! hex(HMAC-SHA256(secret, key + "\n" + expires)), compared in constant time. A bad or
//! tampered link answers `403 invalid_signature`, a genuine but stale one `410 link_expired`.
//! The secret is `storage.url_secret`, or 32 random bytes generated once into
//! `data_dir/storage.key` (mode 0600).

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use serde::Deserialize;
use sha2::Sha256;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Kernel;
use crate::config::Config;
use crate::context::RequestContext;
use crate::error::{AppError, Problem};
use crate::extract::{Path, Query};

/// Longest accepted object key, in bytes.
pub const MAX_KEY_LEN: usize = 512;
/// Name of the generated link-signing secret inside `data_dir`.
pub const SECRET_FILE: &str = "storage.key";

/// One stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub bytes: Vec<u8>,
    pub content_type: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("invalid object key `{key}`: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    #[error("invalid content type `{0}`")]
    InvalidContentType(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl From<StorageError> for AppError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::InvalidKey { reason, .. } => AppError::validation("key", reason),
            other => AppError::Internal(other.into()),
        }
    }
}

/// Where files live, whatever the engine.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Stores `bytes` under `key`, replacing any previous object.
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), StorageError>;
    /// The object under `key`, or `None` if there is none.
    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StorageError>;
    /// Removes the object under `key`; removing a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), StorageError>;
    /// An absolute URL that downloads `key` without credentials until `ttl` has passed.
    /// Whether the object exists is not checked (it is at download time).
    async fn signed_url(&self, key: &str, ttl: Duration) -> Result<String, StorageError>;
    /// The local engine, whose links this app serves itself (see [`router`]).
    fn as_local(&self) -> Option<&LocalStore> {
        None
    }
}

/// Checks a key against the rules in the module docs.
pub fn validate_key(key: &str) -> Result<(), StorageError> {
    let invalid = |reason| Err(StorageError::InvalidKey { key: key.chars().take(80).collect(), reason });
    if key.is_empty() {
        return invalid("must not be empty");
    }
    if key.len() > MAX_KEY_LEN {
        return invalid("too long");
    }
    for segment in key.split('/') {
        if segment.is_empty() {
            return invalid("must be a relative path without empty segments");
        }
        if segment.starts_with('.') {
            return invalid("segments must not start with `.`");
        }
        if !segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
            return invalid("only A-Z, a-z, 0-9, `.`, `_`, `-` and `/` are allowed");
        }
    }
    Ok(())
}

fn validate_content_type(content_type: &str) -> Result<(), StorageError> {
    let ok = !content_type.is_empty()
        && content_type.len() <= 255
        && content_type.contains('/')
        && content_type.bytes().all(|b| b == b' ' || b.is_ascii_graphic());
    if ok { Ok(()) } else { Err(StorageError::InvalidContentType(content_type.chars().take(80).collect())) }
}

/// The content type for a key whose type was not recorded.
fn guess_content_type(key: &str) -> &'static str {
    match key.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).as_deref() {
        Some("pdf") => "application/pdf",
        Some("csv") => "text/csv; charset=utf-8",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("ics") => "text/calendar; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Where the configured engine keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
}

impl Location {
    /// Parses a `storage.url` value; the error is a message for the config key.
    pub fn parse(url: &str) -> Result<Location, String> {
        match url.split_once("://") {
            Some(("file", "")) => Err("file:// needs a directory, e.g. file://data/files".into()),
            Some(("file", path)) => Ok(Location::Local(PathBuf::from(path))),
            Some(("s3", _)) => Err("S3 storage is not available yet; use file://<dir>".into()),
            _ => Err("unknown scheme: expected file://<dir>".into()),
        }
    }
}

/// Opens the engine named by the configuration.
pub fn open(config: &Config) -> anyhow::Result<Arc<dyn ObjectStore>> {
    Ok(Arc::new(LocalStore::open(config)?))
}

/// Signs and checks download links (HMAC-SHA256 over key and expiry).
pub struct UrlSigner {
    secret: SecretSlice<u8>,
}

/// Why a signed link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link's signature is invalid")]
    InvalidSignature,
    #[error("the link has expired")]
    Expired,
}

impl UrlSigner {
    pub fn new(secret: &[u8]) -> UrlSigner {
        UrlSigner { secret: SecretSlice::from(secret.to_vec()) }
    }

    fn mac(&self, key: &str, expires: i64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose_secret()).expect("HMAC accepts any key length");
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// The hex signature of `key` valid until `expires` (unix seconds).
    pub fn sign(&self, key: &str, expires: i64) -> String {
        hex::encode(self.mac(key, expires).finalize().into_bytes())
    }

    /// Checks the signature first (so a forged expiry is a bad signature), then that
    /// `now <= expires`.
    pub fn check(&self, key: &str, expires: i64, sig: &str, now: i64) -> Result<(), LinkError> {
        let sig = hex::decode(sig).map_err(|_| LinkError::InvalidSignature)?;
        self.mac(key, expires).verify_slice(&sig).map_err(|_| LinkError::InvalidSignature)?;
        if now > expires { Err(LinkError::Expired) } else { Ok(()) }
    }

    /// `{base}/api/files/signed/{key}?expires=…&sig=…` with the key as one encoded segment.
    pub fn link(&self, base: &str, key: &str, expires: i64) -> String {
        let segment = key.replace('/', "%2F");
        format!("{}/api/files/signed/{segment}?expires={expires}&sig={}", base.trim_end_matches('/'), self.sign(key, expires))
    }
}

/// Files in a local directory, served by the app through signed links.
pub struct LocalStore {
    root: PathBuf,
    signer: UrlSigner,
    base_url: String,
}

impl LocalStore {
    /// A store rooted at `root` whose links start with `base_url` (the public URL of the app).
    pub fn new(root: impl Into<PathBuf>, signer: UrlSigner, base_url: impl Into<String>) -> LocalStore {
        LocalStore { root: root.into(), signer, base_url: base_url.into() }
    }

    /// The store the configuration describes: `storage.url` or `data_dir/files`, signing with
    /// `storage.url_secret` or the secret kept in `data_dir/storage.key` (generated if absent).
    pub fn open(config: &Config) -> anyhow::Result<LocalStore> {
        let root = match config.storage.url.as_deref().map(Location::parse) {
            None => config.data_dir.join("files"),
            Some(Ok(Location::Local(dir))) => dir,
            Some(Err(message)) => anyhow::bail!("storage.url: {message}"),
        };
        let secret = match &config.storage.url_secret {
            Some(s) => s.expose_secret().as_bytes().to_vec(),
            None => load_or_create_secret(&config.data_dir.join(SECRET_FILE))?,
        };
        Ok(LocalStore::new(root, UrlSigner::new(&secret), config.server.public_url.clone()))
    }

    pub fn root(&self) -> &FsPath {
        &self.root
    }

    pub fn signer(&self) -> &UrlSigner {
        &self.signer
    }

    fn path(&self, tree: &str, key: &str) -> PathBuf {
        let mut path = self.root.join(tree);
        path.extend(key.split('/'));
        path
    }

    /// Writes `bytes` to `dest` through a synced temporary file and a rename.
    async fn write_atomically(&self, dest: &FsPath, bytes: &[u8]) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        let tmp_dir = self.root.join("tmp");
        tokio::fs::create_dir_all(&tmp_dir).await?;
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let tmp = tmp_dir.join(uuid::Uuid::new_v4().simple().to_string());
        let written = async {
            let mut file = tokio::fs::File::create(&tmp).await?;
            file.write_all(bytes).await?;
            file.sync_all().await?;
            drop(file);
            tokio::fs::rename(&tmp, dest).await
        }
        .await;
        if written.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        written
    }
}

/// `Ok(None)` for a missing file.
async fn read_optional(path: &FsPath) -> std::io::Result<Option<Vec<u8>>> {
    match tokio::fs::read(path).await {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

async fn remove_optional(path: &FsPath) -> std::io::Result<()> {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[async_trait]
impl ObjectStore for LocalStore {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), StorageError> {
        validate_key(key)?;
        validate_content_type(content_type)?;
        self.write_atomically(&self.path("meta", key), content_type.as_bytes()).await?;
        self.write_atomically(&self.path("objects", key), &bytes).await?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StorageError> {
        validate_key(key)?;
        let Some(bytes) = read_optional(&self.path("objects", key)).await? else { return Ok(None) };
        let content_type = read_optional(&self.path("meta", key))
            .await?
            .and_then(|t| String::from_utf8(t).ok())
            .filter(|t| validate_content_type(t).is_ok())
            .unwrap_or_else(|| guess_content_type(key).to_string());
        Ok(Some(StoredObject { bytes, content_type }))
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        validate_key(key)?;
        remove_optional(&self.path("objects", key)).await?;
        remove_optional(&self.path("meta", key)).await?;
        Ok(())
    }

    async fn signed_url(&self, key: &str, ttl: Duration) -> Result<String, StorageError> {
        validate_key(key)?;
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        let expires = chrono::Utc::now().timestamp().saturating_add(ttl);
        Ok(self.signer.link(&self.base_url, key, expires))
    }

    fn as_local(&self) -> Option<&LocalStore> {
        Some(self)
    }
}

/// Reads the hex secret at `path`, or generates one there (readable by the owner only).
fn load_or_create_secret(path: &FsPath) -> anyhow::Result<Vec<u8>> {
    use rand::RngCore;
    use std::io::Write;
    let parse = |text: &str| hex::decode(text.trim()).ok().filter(|s| s.len() >= 32);
    if let Ok(text) = std::fs::read_to_string(path)
        && let Some(secret) = parse(&text)
    {
        return Ok(secret);
    }
    let mut secret = vec![0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .and_then(|mut f| f.write_all(hex::encode(&secret).as_bytes()))
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a file-link signing secret; set storage.url_secret to share one between nodes");
    Ok(secret)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedLinkQuery {
    /// Unix time (seconds) after which the link stops working.
    pub expires: Option<String>,
    /// Hex HMAC-SHA256 signature issued with the link.
    pub sig: Option<String>,
}

/// A problem response with a code [`AppError`] has no variant for.
fn link_problem(status: StatusCode, code: &str, detail: &str) -> Response {
    let problem = Problem {
        kind: format!("https://backline.dev/problems/{code}"),
        title: status.canonical_reason().unwrap_or("error").to_string(),
        status: status.as_u16(),
        detail: detail.to_string(),
        code: code.to_string(),
        field: None,
        request_id: RequestContext::current().map(|c| c.request_id),
    };
    let mut response = (status, axum::Json(problem)).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    response
}

/// Download a file through a signed link (as issued by the app, e.g. for a ticket PDF).
/// The link itself is the credential: no authentication.
#[utoipa::path(get, path = "/api/files/signed/{key}", tag = "files",
    params(("key" = String, Path, description = "Object key, `/` encoded as `%2F`"), SignedLinkQuery),
    responses(
        (status = 200, description = "The file, with the content type it was stored with"),
        (status = 403, description = "Missing, malformed or tampered signature (`invalid_signature`)", body = Problem),
        (status = 404, description = "No such file", body = Problem),
        (status = 410, description = "The link has expired (`link_expired`)", body = Problem)))]
async fn download(State(kernel): State<Arc<Kernel>>, Path(key): Path<String>, Query(q): Query<SignedLinkQuery>) -> Response {
    let Some(store) = kernel.storage.as_local() else {
        return AppError::not_found("file").into_response();
    };
    let (Some(expires), Some(sig)) = (q.expires.and_then(|e| e.parse::<i64>().ok()), q.sig) else {
        return link_problem(StatusCode::FORBIDDEN, "invalid_signature", "this download link is incomplete");
    };
    match store.signer.check(&key, expires, &sig, chrono::Utc::now().timestamp()) {
        Ok(()) => {}
        Err(LinkError::InvalidSignature) => {
            return link_problem(StatusCode::FORBIDDEN, "invalid_signature", "this download link is invalid");
        }
        Err(LinkError::Expired) => {
            return link_problem(StatusCode::GONE, "link_expired", "this download link has expired; request a new one");
        }
    }
    // A signed key is one we issued, so an invalid one is treated as simply absent.
    let object = match store.get(&key).await {
        Ok(Some(object)) => object,
        Ok(None) | Err(StorageError::InvalidKey { .. }) => return AppError::not_found("file").into_response(),
        Err(e) => return AppError::from(e).into_response(),
    };
    let file_name = key.rsplit('/').next().unwrap_or("file");
    // Only types a browser cannot execute are shown inline; anything else downloads.
    let inline = object.content_type == "application/pdf"
        || (object.content_type.starts_with("image/") && !object.content_type.contains("svg"));
    let disposition = format!("{}; filename=\"{file_name}\"", if inline { "inline" } else { "attachment" });
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_str(&object.content_type)),
        (header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition)),
        (header::CACHE_CONTROL, Ok(HeaderValue::from_static("private, no-store"))),
    ];
    let mut response = object.bytes.into_response();
    for (name, value) in headers {
        match value {
            Ok(v) => response.headers_mut().insert(name, v),
            Err(_) => return AppError::internal(format!("unrepresentable header for {key}")).into_response(),
        };
    }
    response
}

/// `GET /api/files/signed/{key}`.
pub fn router(kernel: Arc<Kernel>) -> OpenApiRouter {
    OpenApiRouter::new().routes(routes!(download)).with_state(kernel)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &FsPath) -> LocalStore {
        LocalStore::new(dir, UrlSigner::new(b"0123456789abcdef0123456789abcdef"), "https://tickets.example/")
    }

    #[test]
    fn keys_are_validated() {
        for good in ["a", "tickets/0190c1a2/ticket-1.pdf", "exports/2026_01/report.v2.csv", "A-Z_09"] {
            assert!(validate_key(good).is_ok(), "{good}");
        }
        let too_long = "a".repeat(MAX_KEY_LEN + 1);
        for bad in [
            "",
            "/etc/passwd",
            "../secret",
            "a/../../b",
            "a/./b",
            "a//b",
            "a/",
            ".hidden",
            "a\\b",
            "C:/x",
            "a b",
            "é",
            "a\nb",
            "a%2Fb",
            too_long.as_str(),
        ] {
            assert!(matches!(validate_key(bad), Err(StorageError::InvalidKey { .. })), "{bad:?}");
        }
    }

    #[test]
    fn links_verify_until_they_expire() {
        let s = UrlSigner::new(b"0123456789abcdef0123456789abcdef");
        let sig = s.sign("tickets/t.pdf", 1_000);
        assert_eq!(sig.len(), 64);
        assert_eq!(s.check("tickets/t.pdf", 1_000, &sig, 999), Ok(()));
        assert_eq!(s.check("tickets/t.pdf", 1_000, &sig, 1_000), Ok(()));
        assert_eq!(s.check("tickets/t.pdf", 1_000, &sig, 1_001), Err(LinkError::Expired));
        // A stale link cannot be revived by editing its expiry.
        assert_eq!(s.check("tickets/t.pdf", 2_000, &sig, 1_001), Err(LinkError::InvalidSignature));
        assert_eq!(s.check("tickets/u.pdf", 1_000, &sig, 999), Err(LinkError::InvalidSignature));
        assert_eq!(s.check("tickets/t.pdf", 1_000, &sig.to_uppercase(), 999), Ok(()), "hex is case-insensitive");
        assert_eq!(s.check("tickets/t.pdf", 1_000, &sig[..62], 999), Err(LinkError::InvalidSignature));
        assert_eq!(s.check("tickets/t.pdf", 1_000, "zz", 999), Err(LinkError::InvalidSignature));
        assert_eq!(s.check("tickets/t.pdf", 1_000, "", 999), Err(LinkError::InvalidSignature));
        let other = UrlSigner::new(b"another-secret-another-secret-xx");
        assert_eq!(other.check("tickets/t.pdf", 1_000, &sig, 999), Err(LinkError::InvalidSignature));
    }

    #[test]
    fn links_carry_the_key_as_one_segment() {
        let s = UrlSigner::new(b"0123456789abcdef0123456789abcdef");
        let link = s.link("https://tickets.example/", "tickets/o/t.pdf", 42);
        let sig = s.sign("tickets/o/t.pdf", 42);
        assert_eq!(link, format!("https://tickets.example/api/files/signed/tickets%2Fo%2Ft.pdf?expires=42&sig={sig}"));
    }

    #[test]
    fn location_parses_file_urls() {
        assert_eq!(Location::parse("file://data/files"), Ok(Location::Local("data/files".into())));
        assert_eq!(Location::parse("file:///srv/files"), Ok(Location::Local("/srv/files".into())));
        assert!(Location::parse("s3://bucket").is_err());
        assert!(Location::parse("data/files").is_err());
    }

    #[tokio::test]
    async fn local_store_round_trip() {
        let dir = std::env::temp_dir().join(format!("backline-storage-{}", uuid::Uuid::new_v4().simple()));
        let s = store(&dir);
        assert_eq!(s.get("tickets/a.pdf").await.unwrap(), None);
        s.put("tickets/a.pdf", b"%PDF-1.7 one".to_vec(), "application/pdf").await.unwrap();
        s.put("tickets/a.pdf", b"%PDF-1.7 two".to_vec(), "application/pdf").await.unwrap();
        let got = s.get("tickets/a.pdf").await.unwrap().unwrap();
        assert_eq!(got, StoredObject { bytes: b"%PDF-1.7 two".to_vec(), content_type: "application/pdf".into() });
        assert!(dir.join("objects/tickets/a.pdf").is_file());
        assert_eq!(std::fs::read_dir(dir.join("tmp")).unwrap().count(), 0, "no temp files left behind");

        // Without a recorded type, the extension decides.
        std::fs::write(dir.join("objects/export.csv"), "a,b\n").unwrap();
        assert_eq!(s.get("export.csv").await.unwrap().unwrap().content_type, "text/csv; charset=utf-8");

        assert!(matches!(s.put("x", vec![], "bad\ntype").await, Err(StorageError::InvalidContentType(_))));
        assert!(matches!(s.put("../x", vec![], "text/plain").await, Err(StorageError::InvalidKey { .. })));
        assert!(matches!(s.get("../x").await, Err(StorageError::InvalidKey { .. })));

        let url = s.signed_url("tickets/a.pdf", Duration::from_secs(60)).await.unwrap();
        assert!(url.starts_with("https://tickets.example/api/files/signed/tickets%2Fa.pdf?expires="), "{url}");

        s.delete("tickets/a.pdf").await.unwrap();
        s.delete("tickets/a.pdf").await.unwrap();
        assert_eq!(s.get("tickets/a.pdf").await.unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_generated_secret_is_kept() {
        let dir = std::env::temp_dir().join(format!("backline-secret-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(SECRET_FILE);
        let first = load_or_create_secret(&path).unwrap();
        assert_eq!(first.len(), 32);
        assert_eq!(load_or_create_secret(&path).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

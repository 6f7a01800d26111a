//! Access tokens (HS256 JWTs carrying a `kid`, so keys rotate: the first configured key
//! signs, every configured key verifies) and password hashing (argon2id).

use std::path::Path;

use crate::config::AuthConfig;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode};
use kernel::AppError;
use kernel::id::{SessionId, UserId};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: UserId,
    pub sid: SessionId,
    /// Platform administrator.
    #[serde(default)]
    pub adm: bool,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
}

struct Key {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

pub struct TokenKeys {
    keys: Vec<Key>,
    issuer: String,
    pub access_ttl_secs: i64,
}

impl TokenKeys {
    /// Keys from config; with none configured, a key generated once and kept in
    /// `data_dir/jwt.key` (so restarts keep sessions valid).
    pub fn load(config: &AuthConfig, data_dir: &Path) -> anyhow::Result<TokenKeys> {
        let mut keys: Vec<Key> = config
            .jwt_keys
            .iter()
            .map(|k| Key {
                kid: k.kid.clone(),
                encoding: EncodingKey::from_secret(k.secret.expose_secret().as_bytes()),
                decoding: DecodingKey::from_secret(k.secret.expose_secret().as_bytes()),
            })
            .collect();
        if keys.is_empty() {
            let path = data_dir.join("jwt.key");
            let secret = match std::fs::read_to_string(&path) {
                Ok(s) if s.trim().len() >= 32 => s.trim().to_string(),
                _ => {
                    let s = crate::domain::new_secret("jwt");
                    write_private(&path, &s).map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
                    tracing::info!(path = %path.display(), "generated a JWT signing key; set auth.jwt_keys to share one key between several nodes");
                    s
                }
            };
            keys.push(Key {
                kid: "local".into(),
                encoding: EncodingKey::from_secret(secret.as_bytes()),
                decoding: DecodingKey::from_secret(secret.as_bytes()),
            });
        }
        Ok(TokenKeys { keys, issuer: config.issuer.clone(), access_ttl_secs: config.access_ttl_secs })
    }

    pub fn issue(&self, user: UserId, session: SessionId, admin: bool) -> Result<String, AppError> {
        let key = &self.keys[0];
        let now = chrono::Utc::now().timestamp();
        let claims =
            Claims { sub: user, sid: session, adm: admin, iss: self.issuer.clone(), iat: now, exp: now + self.access_ttl_secs };
        let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(key.kid.clone());
        encode(&header, &claims, &key.encoding).map_err(|e| AppError::internal(format!("signing token: {e}")))
    }

    /// Verifies signature (by `kid`), issuer and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, AppError> {
        let invalid = || AppError::unauthorized("invalid_token", "the access token is invalid");
        let header = decode_header(token).map_err(|_| invalid())?;
        if header.alg != jsonwebtoken::Algorithm::HS256 {
            return Err(invalid());
        }
        let kid = header.kid.ok_or_else(invalid)?;
        let key = self.keys.iter().find(|k| k.kid == kid).ok_or_else(invalid)?;
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.set_issuer(&[&self.issuer]);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        decode::<Claims>(token, &key.decoding, &validation).map(|d| d.claims).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                AppError::unauthorized("token_expired", "the access token has expired; refresh it")
            }
            _ => invalid(),
        })
    }
}

/// Writes a secret readable by the owner only.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

/// argon2id with the configured memory cost.
#[derive(Clone)]
pub struct PasswordHasherCfg {
    memory_kib: u32,
}

impl PasswordHasherCfg {
    pub fn new(memory_kib: u32) -> Self {
        PasswordHasherCfg { memory_kib: memory_kib.max(8) }
    }

    fn argon(&self) -> Argon2<'static> {
        let params = Params::new(self.memory_kib, 2, 1, None).expect("valid argon2 params");
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// Hashes off the async runtime (argon2 is deliberately slow).
    pub async fn hash(&self, password: String) -> Result<String, AppError> {
        let argon = self.argon();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
            argon.hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
        })
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)
    }

    /// Verifies in constant time; a `None` hash still costs one hash (no user enumeration by timing).
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, AppError> {
        let argon = self.argon();
        tokio::task::spawn_blocking(move || match hash {
            Some(h) => match PasswordHash::new(&h) {
                Ok(parsed) => argon.verify_password(password.as_bytes(), &parsed).is_ok(),
                Err(_) => false,
            },
            None => {
                let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
                let _ = argon.hash_password(password.as_bytes(), &salt);
                false
            }
        })
        .await
        .map_err(AppError::internal)
    }
}

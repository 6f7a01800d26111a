//! Identity's configuration section, `[auth]`: token signing keys and lifetimes, password
//! hashing cost.

use kernel::config::{ConfigError, Section};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtKey {
    pub kid: String,
    pub secret: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Signing keys; the first signs, all verify (rotation). Empty: a key is generated and
    /// kept in `data_dir/jwt.key`.
    pub jwt_keys: Vec<JwtKey>,
    pub issuer: String,
    pub access_ttl_secs: i64,
    pub refresh_ttl_days: i64,
    pub reset_ttl_mins: i64,
    pub invitation_ttl_hours: i64,
    /// Password hashing cost (argon2id memory in KiB); lowered in tests.
    pub argon2_memory_kib: u32,
}

impl Section for AuthConfig {
    const KEY: &'static str = "auth";

    fn defaults() -> serde_json::Value {
        serde_json::json!({
            "jwt_keys": [],
            "issuer": "backline",
            "access_ttl_secs": 900,
            "refresh_ttl_days": 30,
            "reset_ttl_mins": 30,
            "invitation_ttl_hours": 168,
            "argon2_memory_kib": 19_456,
        })
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| ConfigError::Invalid { key, message: message.to_string() };
        if self.access_ttl_secs < 30 {
            return Err(invalid("auth.access_ttl_secs", "must be at least 30"));
        }
        for key in &self.jwt_keys {
            if key.secret.expose_secret().len() < 32 {
                return Err(invalid("auth.jwt_keys", "each secret must be at least 32 bytes"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_limits_name_their_key() {
        let c = kernel::Config::from_overrides(serde_json::json!({})).unwrap();
        let auth: AuthConfig = c.section().unwrap();
        assert_eq!(auth.access_ttl_secs, 900);
        let c = kernel::Config::from_overrides(serde_json::json!({ "auth": { "access_ttl_secs": 5 } })).unwrap();
        let err = c.section::<AuthConfig>().unwrap_err();
        assert!(err.to_string().contains("auth.access_ttl_secs"), "{err}");
        let c =
            kernel::Config::from_overrides(serde_json::json!({ "auth": { "jwt_keys": [{ "kid": "k", "secret": "hunter2" }] } }))
                .unwrap();
        let err = c.section::<AuthConfig>().unwrap_err();
        assert!(err.to_string().contains("auth.jwt_keys") && !err.to_string().contains("hunter2"), "{err}");
    }
}

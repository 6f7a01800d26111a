//! Identity rules without I/O: what a valid email, password, name, slug or time zone is, and
//! how secrets (refresh tokens, reset tokens, invitation tokens, API keys) are made and hashed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kernel::AppError;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A normalized (trimmed, lower-case) email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, raw: &str) -> Result<Email, AppError> {
        let s = raw.trim().to_lowercase();
        let valid = s.len() <= 254
            && s.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && local.len() <= 64
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            })
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            && s.matches('@').count() == 1;
        if valid { Ok(Email(s)) } else { Err(AppError::validation(field, "not a valid email address")) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a new password: 10–128 characters, not all one character.
pub fn check_password(field: &str, password: &str) -> Result<(), AppError> {
    let n = password.chars().count();
    if n < 10 {
        return Err(AppError::validation(field, "must be at least 10 characters"));
    }
    if n > 128 {
        return Err(AppError::validation(field, "must be at most 128 characters"));
    }
    let first = password.chars().next();
    if password.chars().all(|c| Some(c) == first) {
        return Err(AppError::validation(field, "must not repeat a single character"));
    }
    Ok(())
}

/// A required, trimmed text of 1..=max characters.
pub fn required_text(field: &str, raw: &str, max: usize) -> Result<String, AppError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(AppError::validation(field, "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(AppError::validation(field, format!("must be at most {max} characters")));
    }
    Ok(s.to_string())
}

/// An optional text of at most `max` characters; blank becomes `None`.
pub fn optional_text(field: &str, raw: Option<&str>, max: usize) -> Result<Option<String>, AppError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) if s.chars().count() > max => Err(AppError::validation(field, format!("must be at most {max} characters"))),
        Some(s) => Ok(Some(s.to_string())),
    }
}

/// An optional http(s) URL.
pub fn optional_url(field: &str, raw: Option<&str>) -> Result<Option<String>, AppError> {
    let Some(s) = optional_text(field, raw, 2048)? else { return Ok(None) };
    if (s.starts_with("https://") || s.starts_with("http://")) && s.len() > 8 && !s.contains(char::is_whitespace) {
        Ok(Some(s))
    } else {
        Err(AppError::validation(field, "must be an http(s) URL"))
    }
}

/// An IANA time zone name, checked against the time-zone database.
pub fn time_zone(field: &str, raw: &str) -> Result<String, AppError> {
    raw.trim()
        .parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_string())
        .map_err(|_| AppError::validation(field, "unknown IANA time zone (e.g. Europe/Berlin)"))
}

/// A URL slug: lower-case letters, digits and single dashes, 2–64 characters.
pub fn slug(field: &str, raw: &str) -> Result<String, AppError> {
    let s = raw.trim();
    let ok = (2..=64).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--");
    if ok { Ok(s.to_string()) } else { Err(AppError::validation(field, "use 2–64 lower-case letters, digits and dashes")) }
}

/// Derives a slug from a name (`"Club Nord Berlin!"` → `club-nord-berlin`).
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-');
    let out: String = out.chars().take(56).collect();
    if out.len() < 2 { format!("org-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]) } else { out }
}

/// A fresh random secret with a readable prefix (`rt_…`, `pr_…`), 256 bits of entropy.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Secrets are stored only as SHA-256 hashes (they have full entropy, so no salt is needed).
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(Email::parse("email", " Ann@Example.ORG ").unwrap().as_str(), "ann@example.org");
        for bad in ["", "ann", "ann@", "@x.org", "a b@x.org", "a@@x.org", "a@x", "a@.x"] {
            assert!(Email::parse("email", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords() {
        assert!(check_password("password", "short").is_err());
        assert!(check_password("password", "aaaaaaaaaaaa").is_err());
        assert!(check_password("password", &"x".repeat(129)).is_err());
        assert!(check_password("password", "correct horse battery").is_ok());
    }

    #[test]
    fn slugs_and_zones() {
        assert_eq!(slugify("Club Nord — Berlin!"), "club-nord-berlin");
        assert!(slug("slug", "Bad Slug").is_err());
        assert!(slug("slug", "good-slug-2").is_ok());
        assert_eq!(time_zone("tz", "America/New_York").unwrap(), "America/New_York");
        assert!(time_zone("tz", "Mars/Olympus").is_err());
    }

    #[test]
    fn secrets_are_unique_and_hashed() {
        let a = new_secret("rt");
        assert!(a.starts_with("rt_"));
        assert_ne!(a, new_secret("rt"));
        assert_eq!(hash_secret(&a).len(), 64);
    }
}

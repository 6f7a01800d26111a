//! Identity rules without I/O: what a valid email, password, name, slug or time zone is, and
//! how secrets (refresh tokens, reset tokens, invitation tokens, API keys) are made and hashed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kernel::AppError;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Longest accepted email address, in characters (RFC 5321's path limit less the brackets).
pub const EMAIL_MAX: usize = 254;
/// Longest accepted local part (before the `@`), in characters.
pub const EMAIL_LOCAL_MAX: usize = 64;
/// Password length bounds, in characters.
pub const PASSWORD_MIN: usize = 10;
pub const PASSWORD_MAX: usize = 128;
/// Longest user name and API-key name, in characters (after trimming).
pub const USER_NAME_MAX: usize = 100;
pub const API_KEY_NAME_MAX: usize = 100;
/// Longest organization name, in characters (after trimming).
pub const ORG_NAME_MAX: usize = 120;
/// Longest profile bio and organization description, in characters (after trimming).
pub const BIO_MAX: usize = 2000;
pub const DESCRIPTION_MAX: usize = 5000;
/// Longest URL (`avatar_url`, `website`), in characters (after trimming).
pub const URL_MAX: usize = 2048;
/// Slug length bounds.
pub const SLUG_MIN: usize = 2;
pub const SLUG_MAX: usize = 64;
/// Locale tag length bounds.
pub const LOCALE_MIN: usize = 2;
pub const LOCALE_MAX: usize = 35;

/// A normalized (trimmed, lower-case) email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Accepts `local@domain` after trimming: one `@`, a local part of 1–64 characters, a domain
    /// with a dot that neither starts nor ends it, no whitespace or control characters, at most
    /// 254 characters. Lengths are counted in characters, before lower-casing (the OpenAPI
    /// pattern in `model.rs` states the same rule).
    pub fn parse(field: &str, raw: &str) -> Result<Email, AppError> {
        let s = raw.trim();
        let valid = s.chars().count() <= EMAIL_MAX
            && s.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && local.chars().count() <= EMAIL_LOCAL_MAX
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            })
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            && s.matches('@').count() == 1;
        if valid { Ok(Email(s.to_lowercase())) } else { Err(AppError::validation(field, "not a valid email address")) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a new password: 10–128 characters, not all one character.
pub fn check_password(field: &str, password: &str) -> Result<(), AppError> {
    let n = password.chars().count();
    if n < PASSWORD_MIN {
        return Err(AppError::validation(field, format!("must be at least {PASSWORD_MIN} characters")));
    }
    if n > PASSWORD_MAX {
        return Err(AppError::validation(field, format!("must be at most {PASSWORD_MAX} characters")));
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

/// An optional http(s) URL: blank becomes `None`; otherwise `http://` or `https://` followed by
/// at least one character, no whitespace, at most 2048 characters.
pub fn optional_url(field: &str, raw: Option<&str>) -> Result<Option<String>, AppError> {
    let Some(s) = optional_text(field, raw, URL_MAX)? else { return Ok(None) };
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
    if rest.is_some_and(|r| !r.is_empty()) && !s.contains(char::is_whitespace) {
        Ok(Some(s))
    } else {
        Err(AppError::validation(field, "must be an http(s) URL"))
    }
}

/// A locale tag such as `en` or `de-AT`, trimmed: 2–35 ASCII letters, digits and dashes.
pub fn locale(field: &str, raw: &str) -> Result<String, AppError> {
    let l = raw.trim();
    let ok = (LOCALE_MIN..=LOCALE_MAX).contains(&l.len()) && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok { Ok(l.to_string()) } else { Err(AppError::validation(field, "must be a BCP 47 language tag such as en or de-AT")) }
}

/// An IANA time zone name, checked against the time-zone database, as its canonical name.
pub fn time_zone(field: &str, raw: &str) -> Result<String, AppError> {
    kernel::validate::time_zone(field, raw).map(|tz| tz.name().to_string())
}

/// A URL slug: lower-case letters, digits and single dashes, 2–64 characters.
pub fn slug(field: &str, raw: &str) -> Result<String, AppError> {
    let s = raw.trim();
    let ok = (SLUG_MIN..=SLUG_MAX).contains(&s.len())
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
        // Lengths count characters, before lower-casing (`İ` lower-cases to two).
        assert!(Email::parse("email", &format!("{}@x.org", "İ".repeat(EMAIL_LOCAL_MAX))).is_ok());
        assert!(Email::parse("email", &format!("{}@x.org", "é".repeat(EMAIL_LOCAL_MAX + 1))).is_err());
        let longest = format!("a@{}.org", "é".repeat(EMAIL_MAX - 6));
        assert!(Email::parse("email", &longest).is_ok());
        assert!(Email::parse("email", &format!("a{longest}")).is_err());
    }

    #[test]
    fn urls() {
        assert_eq!(optional_url("u", Some(" http://x ")).unwrap().as_deref(), Some("http://x"));
        assert!(optional_url("u", Some("")).unwrap().is_none());
        for bad in ["http://", "https://", "ftp://x", "https://a b", "x"] {
            assert!(optional_url("u", Some(bad)).is_err(), "{bad}");
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

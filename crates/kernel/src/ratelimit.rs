//! Rate limits (GCRA, via `governor`): per user or API key, per IP for anonymous callers, and
//! login attempts per account and per IP. Each limit allows a burst of its per-minute count and
//! refills smoothly. Exceeding one answers `429` with `Retry-After`.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::RateLimitConfig;
use crate::error::AppError;

pub struct RateLimits {
    per_actor: DefaultKeyedRateLimiter<String>,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    login_account: DefaultKeyedRateLimiter<String>,
    login_ip: DefaultKeyedRateLimiter<IpAddr>,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

fn check<K: std::hash::Hash + Eq + Clone>(limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> Result<(), AppError> {
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        AppError::TooManyRequests { retry_after_secs: wait.as_secs_f64().ceil() as u64 }
    })
}

impl RateLimits {
    pub fn new(config: &RateLimitConfig) -> RateLimits {
        RateLimits {
            per_actor: RateLimiter::keyed(per_minute(config.per_user_per_min)),
            per_ip: RateLimiter::keyed(per_minute(config.per_ip_per_min)),
            login_account: RateLimiter::keyed(per_minute(config.login_per_account_per_min)),
            login_ip: RateLimiter::keyed(per_minute(config.login_per_ip_per_min)),
        }
    }

    /// One request by an authenticated actor (`user:…` / `api_key:…`).
    pub fn check_actor(&self, actor: &str) -> Result<(), AppError> {
        check(&self.per_actor, &actor.to_string())
    }

    /// One request by an anonymous caller.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), AppError> {
        check(&self.per_ip, &ip)
    }

    /// One login attempt; both the account's and the IP's budget must allow it.
    pub fn check_login(&self, email: &str, ip: Option<IpAddr>) -> Result<(), AppError> {
        if let Some(ip) = ip {
            check(&self.login_ip, &ip)?;
        }
        check(&self.login_account, &email.to_lowercase())
    }

    /// Forgets keys whose budget is full again (keeps memory bounded).
    pub fn shrink(&self) {
        self.per_actor.retain_recent();
        self.per_ip.retain_recent();
        self.login_account.retain_recent();
        self.login_ip.retain_recent();
    }
}

//! Payments' configuration section, `[payments]`: Stripe keys and webhook secrets, refund
//! retries, the test provider, reconciliation.

use kernel::config::{ConfigError, Section};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Payment providers. Everything is optional: without Stripe keys organizations use the
/// `test` provider (clearly marked test mode, never counted as revenue), `free` and `offline`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentsConfig {
    /// Stripe secret key (`sk_live_…` / `sk_test_…`); unset: Stripe cannot be chosen.
    pub stripe_api_key: Option<SecretString>,
    /// Webhook signing secrets (`whsec_…`); every one verifies, so a rotated secret and its
    /// successor both work during the changeover.
    pub stripe_webhook_secrets: Vec<SecretString>,
    /// Base URL of the Stripe API (tests point it at a local Stripe-compatible server).
    pub stripe_base_url: String,
    /// The `Stripe-Version` header sent with every request.
    pub stripe_version: String,
    /// How old a webhook's signed timestamp may be (either direction), in seconds.
    pub webhook_tolerance_secs: i64,
    /// Attempts of a refund job before it is dead-lettered.
    pub refund_max_attempts: i64,
    /// Whether organizations may use the `test` provider.
    pub test_provider: bool,
    /// How often the reconciliation sweep runs; 0 turns the periodic sweep off.
    pub reconcile_interval_secs: u64,
    /// Payments still in flight after this long are checked with their provider.
    pub reconcile_after_secs: i64,
}

impl Section for PaymentsConfig {
    const KEY: &'static str = "payments";

    fn defaults() -> serde_json::Value {
        serde_json::json!({
            "stripe_api_key": null,
            "stripe_webhook_secrets": [],
            "stripe_base_url": "https://api.stripe.com",
            "stripe_version": "2024-06-20",
            "webhook_tolerance_secs": 300,
            "refund_max_attempts": 8,
            "test_provider": true,
            "reconcile_interval_secs": 300,
            "reconcile_after_secs": 900,
        })
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| ConfigError::Invalid { key, message: message.to_string() };
        match url::Url::parse(&self.stripe_base_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => return Err(invalid("payments.stripe_base_url", "expected http(s)://host[:port]")),
        }
        if self
            .stripe_api_key
            .as_ref()
            .is_some_and(|k| !k.expose_secret().starts_with("sk_") && !k.expose_secret().starts_with("rk_"))
        {
            return Err(invalid("payments.stripe_api_key", "expected a secret key (sk_…) or restricted key (rk_…)"));
        }
        if self.stripe_webhook_secrets.iter().any(|s| s.expose_secret().trim().is_empty()) {
            return Err(invalid("payments.stripe_webhook_secrets", "secrets must not be empty"));
        }
        if self.stripe_version.trim().is_empty() {
            return Err(invalid("payments.stripe_version", "must not be empty"));
        }
        if self.webhook_tolerance_secs < 1 {
            return Err(invalid("payments.webhook_tolerance_secs", "must be at least 1"));
        }
        if self.refund_max_attempts < 1 {
            return Err(invalid("payments.refund_max_attempts", "must be at least 1"));
        }
        if self.reconcile_after_secs < 1 {
            return Err(invalid("payments.reconcile_after_secs", "must be at least 1"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payments_keys_are_checked() {
        let ok: PaymentsConfig = kernel::Config::from_overrides(serde_json::json!({})).unwrap().section().unwrap();
        assert!(ok.stripe_api_key.is_none() && ok.test_provider);
        for (bad, key) in [
            (serde_json::json!({"stripe_base_url": "ftp://x"}), "payments.stripe_base_url"),
            (serde_json::json!({"stripe_api_key": "pk_test_123"}), "payments.stripe_api_key"),
            (serde_json::json!({"webhook_tolerance_secs": 0}), "payments.webhook_tolerance_secs"),
            (serde_json::json!({"refund_max_attempts": 0}), "payments.refund_max_attempts"),
            (serde_json::json!({"stripe_webhook_secrets": [""]}), "payments.stripe_webhook_secrets"),
        ] {
            let err = kernel::Config::from_overrides(serde_json::json!({ "payments": bad }))
                .unwrap()
                .section::<PaymentsConfig>()
                .unwrap_err();
            assert!(err.to_string().contains(key), "{key}: {err}");
        }
    }

    #[test]
    fn secrets_do_not_leak_through_debug() {
        let c = kernel::Config::from_overrides(serde_json::json!({
            "payments": {"stripe_api_key": "sk_test_hunter2", "stripe_webhook_secrets": ["whsec_hunter2"]}
        }))
        .unwrap();
        let section: PaymentsConfig = c.section().unwrap();
        assert!(!format!("{section:?}").contains("hunter2"));
    }
}

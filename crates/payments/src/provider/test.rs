//! The development provider: behaves like Stripe's test mode with its documented card
//! numbers, in-process and offline, so the embedded default demonstrates the whole flow.
//! Everything it does is test mode: marked in the API, never counted as revenue.
//!
//! | card | outcome |
//! |---|---|
//! | `4242 4242 4242 4242` | succeeds |
//! | `4000 0000 0000 0002` | declined (`card_declined`) |
//! | `4000 0000 0000 9995` | declined (`insufficient_funds`) |
//! | `4000 0025 0000 3155` | requires authentication, then succeeds or fails |

use serde_json::json;

use super::*;
use crate::domain::{self, TestCard};

pub struct TestProvider;

fn outcome(id: String, status: ChargeStatus, amount: i64) -> ChargeOutcome {
    let fee = if status == ChargeStatus::Succeeded { domain::test_fee(amount) } else { 0 };
    ChargeOutcome { provider_payment_id: Some(id), status, fee, checkout_url: None, test_mode: true, client_data: None }
}

#[async_trait::async_trait]
impl PaymentProvider for TestProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Test
    }

    async fn charge(&self, req: &ChargeRequest) -> ProviderResult<ChargeOutcome> {
        let id = format!("tp_{}", req.payment_id.0.simple());
        if req.flow == Flow::Checkout {
            // A hosted page stand-in: the buyer "pays" by confirming with a card number.
            let mut o = outcome(id, ChargeStatus::Processing, req.amount);
            o.checkout_url = Some(format!("{}#test-checkout={}", req.success_url, req.payment_id));
            return Ok(o);
        }
        let Some(pm) = req.payment_method.as_deref() else {
            return Err(ProviderError::refused("payment_method: give a test card number, e.g. 4242424242424242"));
        };
        let status = match domain::test_card(pm) {
            Some(TestCard::Succeeds) => ChargeStatus::Succeeded,
            Some(TestCard::Declined) => {
                ChargeStatus::Failed { code: "card_declined".into(), message: "Your card was declined.".into() }
            }
            Some(TestCard::InsufficientFunds) => {
                ChargeStatus::Failed { code: "insufficient_funds".into(), message: "Your card has insufficient funds.".into() }
            }
            Some(TestCard::RequiresAction) => ChargeStatus::RequiresAction {
                next_action: json!({
                    "type": "test_authentication",
                    "hint": "POST /api/payments/process again with the same reference and \"authentication\": \"succeeded\" (or \"failed\")"
                }),
            },
            None => return Err(ProviderError::refused("payment_method: not a test card number (try 4242424242424242)")),
        };
        Ok(outcome(id, status, req.amount))
    }

    async fn authenticate(&self, provider_payment_id: &str, success: bool) -> ProviderResult<ChargeOutcome> {
        let status = if success {
            ChargeStatus::Succeeded
        } else {
            ChargeStatus::Failed {
                code: "payment_intent_authentication_failure".into(),
                message: "The buyer failed authentication.".into(),
            }
        };
        // The fee is worked out by the service from the stored amount.
        Ok(ChargeOutcome {
            provider_payment_id: Some(provider_payment_id.to_string()),
            status,
            fee: -1,
            checkout_url: None,
            test_mode: true,
            client_data: None,
        })
    }

    async fn retrieve(&self, provider_payment_id: &str) -> ProviderResult<ChargeOutcome> {
        // Nothing happens at the test provider behind the app's back.
        Ok(ChargeOutcome {
            provider_payment_id: Some(provider_payment_id.to_string()),
            status: ChargeStatus::Processing,
            fee: 0,
            checkout_url: None,
            test_mode: true,
            client_data: None,
        })
    }

    async fn refund(&self, req: &RefundRequest) -> ProviderResult<RefundOutcome> {
        Ok(RefundOutcome { provider_refund_id: format!("tr_{}", req.refund_id.0.simple()) })
    }

    async fn subscribe(&self, req: &SubscriptionRequest) -> ProviderResult<SubscriptionOutcome> {
        if let Some(pm) = req.payment_method.as_deref()
            && matches!(domain::test_card(pm), Some(TestCard::Declined | TestCard::InsufficientFunds))
        {
            return Err(ProviderError { retryable: false, status: Some(402), message: "Your card was declined.".into() });
        }
        Ok(SubscriptionOutcome {
            provider_subscription_id: format!("tsub_{}", req.subscription_id.0.simple()),
            provider_customer_id: Some(format!("tcus_{}", req.subscription_id.0.simple())),
            status: "active".into(),
            test_mode: true,
            first_invoice: Some(InvoicePaid {
                provider_payment_id: format!("tin_{}_1", req.subscription_id.0.simple()),
                invoice_id: format!("tin_{}_1", req.subscription_id.0.simple()),
                amount: req.amount,
                currency: req.currency.clone(),
                fee: domain::test_fee(req.amount),
            }),
        })
    }

    async fn cancel_subscription(&self, provider_subscription_id: &str) -> ProviderResult<SubscriptionOutcome> {
        Ok(SubscriptionOutcome {
            provider_subscription_id: provider_subscription_id.to_string(),
            provider_customer_id: None,
            status: "canceled".into(),
            test_mode: true,
            first_invoice: None,
        })
    }
}

//! SQL for the payments context's own tables, one file per feature: `payment_settings`,
//! `payments`, `refunds`, `webhook_events`, `ledger_transactions` and `ledger_lines`,
//! `subscriptions`. One SQL text serves both backends. State changes are conditional updates
//! (`… WHERE status IN …`), so a webhook, the synchronous answer and the reconciliation sweep
//! can race and only one wins.
//!
//! Every query over these tenant tables takes the [`kernel::auth::OrgScope`] it acts in and
//! filters by it (`AND org_id = …`), so an id taken from a request cannot reach another
//! organization's rows. The few that cannot know the organization yet say so (`Unscoped:`):
//! they find which organization a payment, refund or subscription belongs to, from an id a
//! provider or a job handed over, before anything is done to it.

mod ledger;
mod payments;
mod refunds;
mod settings;
mod subscriptions;
mod webhooks;

pub(crate) use ledger::*;
pub(crate) use payments::*;
pub(crate) use refunds::*;
pub(crate) use settings::*;
pub(crate) use subscriptions::*;
pub(crate) use webhooks::*;

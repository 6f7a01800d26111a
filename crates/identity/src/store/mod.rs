//! Identity's SQL, one module per group of tables. One SQL text serves both backends.
//!
//! Tenant tables (`organizations`, `memberships`, `invitations`, `api_keys`) are read and
//! written through an [`OrgScope`](kernel::auth::OrgScope) and filtered by its organization.
//! The few functions that cannot be (they answer the question a scope is made from, or a
//! secret is their authority) say why in an `Unscoped:` line. Accounts, sessions and reset
//! tokens belong to no organization.

pub(crate) mod accounts;
pub(crate) mod api_keys;
pub(crate) mod invitations;
pub(crate) mod orgs;
pub(crate) mod sessions;

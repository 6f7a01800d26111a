//! The ledger and settlement reports.

use super::*;

impl PaymentsService {
    pub(super) fn org_param(org: Option<OrgId>) -> AppResult<OrgId> {
        org.ok_or_else(|| AppError::validation("org_id", "required"))
    }

    pub async fn ledger(&self, p: &Principal, q: LedgerQuery) -> AppResult<Page<LedgerTransaction>> {
        let org = Self::org_param(q.org_id)?;
        let scope = self.access.require_for(p, org, Role::Viewer, "organization").await?;
        let page = PageParams { cursor: q.cursor.clone(), limit: q.limit };
        let limit = page.limit()?;
        let before: Option<LedgerTransactionId> = page.decode()?;
        let currency = q.currency.as_deref().map(|c| domain::currency("currency", c)).transpose()?;
        let rows = store::ledger(self.db(), &scope, currency.as_deref(), q.event_id, before, limit).await?;
        let page = Page::from_rows(rows, limit, |r| r.id);
        let ids: Vec<LedgerTransactionId> = page.items.iter().map(|t| t.id).collect();
        let mut lines: HashMap<LedgerTransactionId, Vec<LedgerLine>> = HashMap::new();
        for l in store::ledger_lines(self.db(), &scope, &ids).await? {
            lines.entry(l.transaction_id).or_default().push(LedgerLine {
                account: l.account,
                amount: l.amount,
                currency: l.currency,
            });
        }
        Ok(page.map(|t| LedgerTransaction {
            id: t.id,
            org_id: t.org_id,
            kind: match t.kind.as_str() {
                "fee" => EntryKind::Fee,
                "refund" => EntryKind::Refund,
                "payout" => EntryKind::Payout,
                _ => EntryKind::Charge,
            },
            currency: t.currency,
            payment_id: t.payment_id,
            refund_id: t.refund_id,
            event_id: t.event_id,
            test_mode: t.test_mode,
            memo: t.memo,
            lines: lines.remove(&t.id).unwrap_or_default(),
            created_at: t.created_at,
        }))
    }

    /// Gross, refunds, fees and net per currency, of an organization or one event; test-mode
    /// money apart.
    pub async fn settlement(&self, p: &Principal, q: SettlementQuery) -> AppResult<Settlement> {
        let org = Self::org_param(q.org_id)?;
        let scope = self.access.require_for(p, org, Role::Viewer, "organization").await?;
        let sums = store::account_sums(self.db(), &scope, q.event_id).await?;
        let counts = store::charge_counts(self.db(), &scope, q.event_id).await?;
        let mut lines: std::collections::BTreeMap<(bool, String), SettlementLine> = Default::default();
        for (currency, test, account, sum) in sums {
            let l = lines.entry((test, currency.clone())).or_insert(SettlementLine {
                currency,
                gross: 0,
                refunds: 0,
                fees: 0,
                net: 0,
                payments: 0,
                payouts: 0,
            });
            match account.as_str() {
                // Sales are credits (negative): the gross is their opposite.
                domain::account::SALES => l.gross = domain::left_of(&l.currency, 0, &[sum])?,
                domain::account::REFUNDS => l.refunds = sum,
                domain::account::FEES => l.fees = sum,
                domain::account::BANK => l.payouts = sum,
                _ => {}
            }
        }
        for (currency, test, n) in counts {
            if let Some(l) = lines.get_mut(&(test, currency)) {
                l.payments = n;
            }
        }
        let (mut revenue, mut test_mode) = (Vec::new(), Vec::new());
        for ((test, _), mut l) in lines {
            l.net = domain::left_of(&l.currency, l.gross, &[l.refunds, l.fees])?;
            if test { test_mode.push(l) } else { revenue.push(l) }
        }
        Ok(Settlement { org_id: org, event_id: q.event_id, revenue, test_mode })
    }
}

//! Amounts of money: minor units (cents) with their ISO 4217 currency.
//!
//! Every context used to carry money as an `i64` next to a `String`, and every sum was an
//! unchecked `+` that could mix euros with dollars or overflow in a large report. [`Money`]
//! makes both errors impossible to write silently: arithmetic is checked and refuses to mix
//! currencies. Rows and API bodies keep the two plain fields (`amount`, `currency`) — the wire
//! format does not change — and are turned into [`Money`] where amounts are computed.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::AppError;

/// ISO 4217 codes in use (active currencies, plus a few funds and precious metals that
/// payment providers accept).
pub const CURRENCIES: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD \
CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF \
IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU \
MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP \
SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF \
YER ZAR ZMW ZWG ZWL";

/// Currencies without minor units (an amount of 500 JPY is ¥500, not ¥5.00).
const ZERO_DECIMAL: &str = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF";
/// Currencies with three decimal places.
const THREE_DECIMAL: &str = "BHD IQD JOD KWD LYD OMR TND";

/// An ISO 4217 currency code from [`CURRENCIES`], upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(&'static str);

impl Currency {
    /// Parses a code (`eur` → `EUR`); `422` naming `field` for anything not in the list.
    pub fn parse(field: &str, raw: &str) -> Result<Currency, AppError> {
        Self::from_code(raw.trim())
            .ok_or_else(|| AppError::validation(field, "must be an ISO 4217 currency code (3 letters, e.g. EUR)"))
    }

    /// A known code in either case, or `None`.
    pub fn from_code(code: &str) -> Option<Currency> {
        let upper = code.to_ascii_uppercase();
        // The code is the list's own slice, so every `Currency` is a listed one by construction.
        CURRENCIES.split(' ').find(|c| *c == upper).map(Currency)
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }

    /// How many decimal places the minor unit has (2 for EUR, 0 for JPY, 3 for KWD).
    pub fn exponent(&self) -> u32 {
        let code = self.as_str();
        if ZERO_DECIMAL.split(' ').any(|c| c == code) {
            0
        } else if THREE_DECIMAL.split(' ').any(|c| c == code) {
            3
        } else {
            2
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Currency::from_code(&raw).ok_or_else(|| serde::de::Error::custom(format!("unknown ISO 4217 currency `{raw}`")))
    }
}

/// Why a computation on [`Money`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("amount out of range")]
    Overflow,
}

impl From<MoneyError> for AppError {
    fn from(e: MoneyError) -> AppError {
        match e {
            MoneyError::CurrencyMismatch(..) => AppError::conflict("currency_mismatch", e.to_string()),
            MoneyError::Overflow => AppError::validation("amount", "the total is too large"),
        }
    }
}

/// An amount in minor units of one currency. May be negative (a refund, a ledger credit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub amount: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: i64, currency: Currency) -> Money {
        Money { amount, currency }
    }

    pub fn zero(currency: Currency) -> Money {
        Money { amount: 0, currency }
    }

    /// From a stored row's two columns; the code was validated on the way in, so an unknown
    /// one means the row was written by something else and is reported as a 500.
    pub fn from_row(amount: i64, currency: &str) -> Result<Money, AppError> {
        Currency::from_code(currency)
            .map(|c| Money::new(amount, c))
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("stored currency `{currency}` is not ISO 4217")))
    }

    fn same(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency { Ok(()) } else { Err(MoneyError::CurrencyMismatch(self.currency, other.currency)) }
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same(&other)?;
        self.amount.checked_add(other.amount).map(|amount| Money { amount, ..self }).ok_or(MoneyError::Overflow)
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same(&other)?;
        self.amount.checked_sub(other.amount).map(|amount| Money { amount, ..self }).ok_or(MoneyError::Overflow)
    }

    /// `self × n` (a unit price times a quantity).
    pub fn times(self, n: i64) -> Result<Money, MoneyError> {
        self.amount.checked_mul(n).map(|amount| Money { amount, ..self }).ok_or(MoneyError::Overflow)
    }

    /// The sum of `items` in `currency` (zero for none); every item must be in `currency`.
    pub fn sum(currency: Currency, items: impl IntoIterator<Item = Money>) -> Result<Money, MoneyError> {
        items.into_iter().try_fold(Money::zero(currency), Money::checked_add)
    }

    pub fn is_zero(&self) -> bool {
        self.amount == 0
    }

    pub fn is_negative(&self) -> bool {
        self.amount < 0
    }
}

impl fmt::Display for Money {
    /// `12.50 EUR`, `500 JPY`, `-1.250 KWD`: the amount in major units, as receipts print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exp = self.currency.exponent();
        let sign = if self.amount < 0 { "-" } else { "" };
        let abs = self.amount.unsigned_abs();
        if exp == 0 {
            return write!(f, "{sign}{abs} {}", self.currency);
        }
        let unit = 10u64.pow(exp);
        write!(f, "{sign}{}.{:0width$} {}", abs / unit, abs % unit, self.currency, width = exp as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(n: i64) -> Money {
        Money::new(n, Currency::from_code("EUR").unwrap())
    }

    #[test]
    fn currencies_parse_from_the_list_only() {
        assert_eq!(Currency::parse("currency", " eur ").unwrap().as_str(), "EUR");
        for bad in ["", "EU", "EURO", "ZZZ", "€€€", "e1r"] {
            assert!(Currency::parse("currency", bad).is_err(), "{bad}");
        }
        assert_eq!(CURRENCIES.split(' ').count(), 159);
        for code in ZERO_DECIMAL.split(' ').chain(THREE_DECIMAL.split(' ')) {
            assert!(Currency::from_code(code).is_some(), "{code} is in the list");
        }
        assert_eq!(serde_json::to_string(&eur(5)).unwrap(), r#"{"amount":5,"currency":"EUR"}"#);
        assert!(serde_json::from_str::<Currency>(r#""XYZ""#).is_err());
    }

    #[test]
    fn arithmetic_is_checked_and_never_mixes_currencies() {
        let usd = Money::new(100, Currency::from_code("USD").unwrap());
        assert_eq!(eur(150).checked_add(eur(50)).unwrap(), eur(200));
        assert_eq!(eur(150).checked_sub(eur(200)).unwrap(), eur(-50));
        assert!(matches!(eur(1).checked_add(usd), Err(MoneyError::CurrencyMismatch(..))));
        assert_eq!(eur(i64::MAX).checked_add(eur(1)), Err(MoneyError::Overflow));
        assert_eq!(eur(1250).times(3).unwrap(), eur(3750));
        assert_eq!(eur(i64::MAX / 2).times(3), Err(MoneyError::Overflow));
        let eur_code = Currency::from_code("EUR").unwrap();
        assert_eq!(Money::sum(eur_code, [eur(1), eur(2), eur(3)]).unwrap(), eur(6));
        assert_eq!(Money::sum(eur_code, []).unwrap(), eur(0));
        assert!(Money::sum(eur_code, [eur(1), usd]).is_err());
    }

    #[test]
    fn display_uses_the_currencys_minor_unit() {
        assert_eq!(eur(1250).to_string(), "12.50 EUR");
        assert_eq!(eur(-5).to_string(), "-0.05 EUR");
        assert_eq!(Money::new(500, Currency::from_code("JPY").unwrap()).to_string(), "500 JPY");
        assert_eq!(Money::new(1250, Currency::from_code("KWD").unwrap()).to_string(), "1.250 KWD");
    }
}

//! Money and ratio helpers for the CLI's reports: integer micro-USD in, exact text out.
//!
//! No float ever holds money. Dollar amounts are formatted from integer micro-USD exactly
//! (thousands separators; two decimals when the amount is whole cents, else all six:
//! `4_500_000_000` is `$4,500.00`, `28_680` is `$0.028680`, `13` is `$0.000013`). Decimal
//! inputs (revenue, split shares) are parsed digit by digit into integers, never through `f64`.
//! Percentages are integer tenths of a percent, rounded half away from zero.

/// Micro-USD in one USD.
pub const MICRO_PER_USD: u64 = 1_000_000;

/// Why a decimal could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not a plain non-negative decimal number.
    #[error("{0:?} is not a non-negative decimal number")]
    NotDecimal(String),
    /// More fractional digits than the unit allows.
    #[error("{value:?} has more than {max} decimal places")]
    TooPrecise {
        /// The input.
        value: String,
        /// Decimal places allowed.
        max: u32,
    },
    /// Too large.
    #[error("{0:?} is too large")]
    TooLarge(String),
}

fn group_thousands(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `$` amount of non-negative integer micro-USD, exact (see the module docs).
pub fn format_usd(micro: u64) -> String {
    format_signed_usd(i128::from(micro))
}

/// Signed `$` amount of integer micro-USD, exact: `-$1.50` for `-1_500_000`.
pub fn format_signed_usd(micro: i128) -> String {
    let sign = if micro < 0 { "-" } else { "" };
    let abs = micro.unsigned_abs();
    let per = u128::from(MICRO_PER_USD);
    let micros = abs % per;
    let frac = if micros.is_multiple_of(10_000) { format!("{:02}", micros / 10_000) } else { format!("{micros:06}") };
    format!("{sign}${}.{frac}", group_thousands(abs / per))
}

/// Integer with thousands separators.
pub fn format_count(n: u64) -> String {
    group_thousands(u128::from(n))
}

/// Parse a non-negative decimal (`12`, `12.5`, `0.000001`) into an integer count of
/// `10^-scale` units: `parse_decimal("12.5", 6)` is `12_500_000`.
///
/// # Errors
///
/// [`MoneyError`] for signs, exponents, empty parts, more than `scale` decimals, overflow.
pub fn parse_decimal(input: &str, scale: u32) -> Result<u64, MoneyError> {
    let s = input.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty())
        || !all_digits(int)
        || !all_digits(frac)
        || (s.contains('.') && frac.is_empty())
    {
        return Err(MoneyError::NotDecimal(input.to_string()));
    }
    let frac = frac.trim_end_matches('0');
    let places = u32::try_from(frac.len()).unwrap_or(u32::MAX);
    if places > scale {
        return Err(MoneyError::TooPrecise { value: input.to_string(), max: scale });
    }
    let too_large = || MoneyError::TooLarge(input.to_string());
    let mut value: u64 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        value = value.checked_mul(10).and_then(|v| v.checked_add(u64::from(b - b'0'))).ok_or_else(too_large)?;
    }
    for _ in places..scale {
        value = value.checked_mul(10).ok_or_else(too_large)?;
    }
    Ok(value)
}

/// Parse a USD amount into micro-USD (at most 6 decimals).
///
/// # Errors
///
/// See [`parse_decimal`].
pub fn parse_usd(input: &str) -> Result<u64, MoneyError> {
    parse_decimal(input.trim().trim_start_matches('$'), 6)
}

/// `num / den` in tenths of a percent, rounded half away from zero; `None` when `den` is 0.
pub fn tenths_of_percent(num: i128, den: i128) -> Option<i64> {
    if den == 0 {
        return None;
    }
    let scaled = num.checked_mul(1000)?;
    let (q, r) = (scaled / den, scaled % den);
    let round_away = r.checked_mul(2)?.abs() >= den.abs();
    let q = if round_away { q + if (scaled < 0) == (den < 0) { 1 } else { -1 } } else { q };
    i64::try_from(q).ok()
}

/// Savings `1 - cost / baseline` in tenths of a percent (`None` without a baseline).
pub fn savings_tenths(cost: u64, baseline: u64) -> Option<i64> {
    tenths_of_percent(i128::from(baseline) - i128::from(cost), i128::from(baseline))
}

/// Tenths of a percent as text: `467` is `46.7%`, `None` is `-`.
pub fn format_tenths(t: Option<i64>) -> String {
    match t {
        None => "-".to_string(),
        Some(t) => {
            let sign = if t < 0 { "-" } else { "" };
            format!("{sign}{}.{}%", t.unsigned_abs() / 10, t.unsigned_abs() % 10)
        }
    }
}

/// Tenths of a percent as a JSON number (`46.7`), exact to the tenth.
pub fn tenths_json(t: Option<i64>) -> serde_json::Value {
    match t {
        None => serde_json::Value::Null,
        Some(t) => {
            serde_json::Number::from_f64(t as f64 / 10.0).map_or(serde_json::Value::Null, serde_json::Value::Number)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dollars_exactly() {
        assert_eq!(format_usd(4_500_000_000), "$4,500.00");
        assert_eq!(format_usd(2_400_000_000), "$2,400.00");
        assert_eq!(format_usd(1_506_800_000), "$1,506.80");
        assert_eq!(format_usd(28_680), "$0.028680");
        assert_eq!(format_usd(13), "$0.000013");
        assert_eq!(format_usd(0), "$0.00");
        assert_eq!(format_usd(1_234_567_890_123), "$1,234,567.890123");
        assert_eq!(format_usd(u64::MAX), "$18,446,744,073,709.551615");
        assert_eq!(format_signed_usd(-1_500_000), "-$1.50");
        assert_eq!(format_signed_usd(-7), "-$0.000007");
        assert_eq!(format_count(1_000_000), "1,000,000");
        assert_eq!(format_count(999), "999");
    }

    #[test]
    fn parses_decimals_without_floats() {
        assert_eq!(parse_usd("12.5").unwrap(), 12_500_000);
        assert_eq!(parse_usd("$0.000001").unwrap(), 1);
        assert_eq!(parse_usd("0.1").unwrap(), 100_000);
        assert_eq!(parse_usd("7").unwrap(), 7_000_000);
        assert_eq!(parse_usd(".5").unwrap(), 500_000);
        assert_eq!(parse_usd("1.2300000").unwrap(), 1_230_000);
        assert_eq!(parse_decimal("0.7", 6).unwrap(), 700_000);
        assert_eq!(parse_decimal("1", 6).unwrap(), 1_000_000);
        assert!(matches!(parse_usd("0.0000001"), Err(MoneyError::TooPrecise { .. })));
        for bad in ["", ".", "1.", "-1", "+1", "1e3", "1,000", "abc", "1.2.3", " . "] {
            assert!(matches!(parse_usd(bad), Err(MoneyError::NotDecimal(_))), "{bad:?}");
        }
        assert!(matches!(parse_usd("99999999999999999999"), Err(MoneyError::TooLarge(_))));
    }

    #[test]
    fn percentages_round_half_away_from_zero() {
        assert_eq!(savings_tenths(2_400, 4_500), Some(467)); // 46.666...%
        assert_eq!(savings_tenths(0, 4_500), Some(1000));
        assert_eq!(savings_tenths(4_500, 4_500), Some(0));
        assert_eq!(savings_tenths(9_000, 4_500), Some(-1000));
        assert_eq!(savings_tenths(1, 0), None);
        assert_eq!(tenths_of_percent(1, 2000), Some(1)); // 0.05% -> 0.1%
        assert_eq!(tenths_of_percent(-1, 2000), Some(-1));
        assert_eq!(tenths_of_percent(1, 2001), Some(0));
        assert_eq!(tenths_of_percent(1, 3), Some(333));
        assert_eq!(tenths_of_percent(2, 3), Some(667));
        assert_eq!(format_tenths(Some(467)), "46.7%");
        assert_eq!(format_tenths(Some(-5)), "-0.5%");
        assert_eq!(format_tenths(None), "-");
        assert_eq!(tenths_json(Some(467)), serde_json::json!(46.7));
    }
}

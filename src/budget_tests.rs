//! Tests of budget periods, spend values and the pace.

use super::*;

fn budget(raw: RawBudget) -> Budget {
    Budget::try_from(raw).unwrap()
}

fn daily(default: u64) -> Budget {
    budget(RawBudget { default_micro_usd: Some(default), ..RawBudget::default() })
}

/// 2026-12-02T00:00:00Z.
const DAY: u64 = 1_796_169_600;

#[test]
fn periods_are_utc_hours_days_and_calendar_months() {
    assert_eq!(Period::Day.window(DAY + 5), Window { index: DAY / 86_400, start: DAY, end: DAY + 86_400 });
    assert_eq!(Period::Hour.window(DAY + 3_599).end, DAY + 3_600);
    // December 2026: 31 days; February 2028 (leap year): 29.
    let dec = Period::Month.window(DAY + 86_400 * 10);
    assert_eq!((dec.start, dec.end - dec.start), (DAY - 86_400, 31 * 86_400));
    assert_eq!(dec.index, 2026 * 12 + 11);
    let leap = Period::Month.window(1_833_062_400); // 2028-02-02
    assert_eq!(leap.end - leap.start, 29 * 86_400);
    // A year's months tile it.
    let mut t = 1_798_761_600; // 2027-01-01
    for _ in 0..12 {
        let w = Period::Month.window(t);
        assert_eq!(w.start, t);
        t = w.end;
    }
    assert_eq!(t, 1_830_297_600); // 2028-01-01
}

#[test]
fn spend_values_of_another_period_or_unreadable_read_as_zero() {
    assert_eq!(spent_in(Some(&encode(7, 1_234)), 7), 1_234);
    assert_eq!(spent_in(Some(&encode(6, 1_234)), 7), 0);
    for bad in [&b""[..], b"7", b"7:x", b":5", b"\xff"] {
        assert_eq!(spent_in(Some(bad), 7), 0, "{bad:?}");
    }
    assert_eq!(spent_in(None, 7), 0);
}

#[test]
fn the_pace_rises_from_zero_at_the_allowance_to_one_at_pace_full_at() {
    let b = daily(1_000_000);
    let mid = DAY + 43_200; // half the day gone: allowance 0.55 * budget
    let at = |spent: u64| b.standing("acme", Some(&encode(DAY / 86_400, spent)), mid).unwrap();
    assert_eq!(at(550_000).pace, 0.0);
    assert!((at(825_000).pace - 0.5).abs() < 1e-9);
    assert_eq!(at(1_100_000).pace, 1.0);
    assert!(at(1_000_000).at_cap() && !at(999_999).at_cap());
    assert_eq!(at(999_999).remaining(), 1);
    // Yesterday's spend does not count.
    assert_eq!(b.standing("acme", Some(&encode(DAY / 86_400 - 1, 5_000_000)), mid).unwrap().spent, 0);
}

#[test]
fn named_customers_default_and_the_unbudgeted_labels() {
    let b = budget(RawBudget {
        default_micro_usd: Some(10),
        customers: [("acme".to_string(), 99)].into_iter().collect(),
        ..RawBudget::default()
    });
    assert_eq!((b.of("acme"), b.of("beta")), (Some(99), Some(10)));
    assert_eq!((b.of("unknown"), b.of("other")), (None, None));
    let named_only =
        budget(RawBudget { customers: [("acme".to_string(), 99)].into_iter().collect(), ..RawBudget::default() });
    assert_eq!(named_only.of("beta"), None);
}

#[test]
fn raised_thresholds_move_towards_one() {
    assert_eq!(raised(&[0.4, 0.6], 0.0), vec![0.4, 0.6]);
    assert_eq!(raised(&[0.4, 0.6], 1.0), vec![1.0, 1.0]);
    let half = raised(&[0.4, 0.6], 0.5);
    assert!((half[0] - 0.7).abs() < 1e-6 && (half[1] - 0.8).abs() < 1e-6);
}

#[test]
fn invalid_sections_are_refused() {
    assert_eq!(Budget::try_from(RawBudget::default()), Err(BudgetError::Empty));
    for bad in [1.0, 0.5, f64::NAN, f64::INFINITY] {
        let raw = RawBudget { default_micro_usd: Some(1), pace_full_at: Some(bad), ..RawBudget::default() };
        assert!(matches!(Budget::try_from(raw), Err(BudgetError::PaceFullAt(_))), "{bad}");
    }
}

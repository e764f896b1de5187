//! The strong-share controller on a synthetic, bursty mix of scores.

use super::*;

fn cfg(target: f64, window: usize) -> StrongShare {
    StrongShare::try_from(RawStrongShare { target, window: Some(window), ..RawStrongShare::default() }).unwrap()
}

/// A small deterministic generator (64-bit LCG) of uniform scores in `[lo, hi)`.
struct Mix(u64);
impl Mix {
    fn next(&mut self, lo: f32, hi: f32) -> f32 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        #[allow(clippy::cast_precision_loss)]
        let u = (self.0 >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * u
    }
}

const CONFIGURED: [f32; 2] = [0.4677, 0.5992];

#[test]
fn the_share_converges_within_one_window_of_each_shift_and_holds_without_oscillating() {
    let c = cfg(0.2, 500);
    let ctl = ShareController::default();
    let mut mix = Mix(42);
    // Easy traffic, a burst of hard traffic, easy again: 3,000 requests each.
    let phases = [(0.0, 0.6), (0.3, 1.0), (0.0, 0.6)];
    for (p, (lo, hi)) in phases.into_iter().enumerate() {
        let mut strong = Vec::new();
        let mut top = Vec::new();
        for _ in 0..3_000 {
            let t = ctl.thresholds(&c, &CONFIGURED);
            let s = mix.next(lo, hi);
            strong.push(s >= t[1]);
            top.push(t[1]);
            ctl.observe(&c, s);
        }
        // After one window of the new mix, every block of 500 requests is near 20% strong.
        for (i, block) in strong[500..].chunks(500).enumerate() {
            #[allow(clippy::cast_precision_loss)]
            let share = block.iter().filter(|b| **b).count() as f64 / 500.0;
            assert!((share - 0.2).abs() < 0.06, "phase {p} block {i}: share {share}");
        }
        // And the threshold stays in a narrow band (sampling noise of a 500-score quantile).
        let settled = &top[500..];
        let (min, max) = settled.iter().fold((f32::MAX, f32::MIN), |(a, b), t| (a.min(*t), b.max(*t)));
        assert!(max - min < 0.08, "phase {p}: threshold moved between {min} and {max}");
    }
}

#[test]
fn until_the_window_is_full_the_configured_thresholds_apply() {
    let c = cfg(0.5, 10);
    let ctl = ShareController::default();
    for i in 0..9 {
        ctl.observe(&c, 0.95);
        assert_eq!(ctl.thresholds(&c, &CONFIGURED), CONFIGURED.to_vec(), "{i}");
    }
    ctl.observe(&c, 0.95);
    assert_eq!(ctl.thresholds(&c, &CONFIGURED), vec![0.4677, 0.95]);
}

#[test]
fn bounds_clamp_the_threshold_and_it_never_falls_below_the_one_before() {
    let bounded = StrongShare::try_from(RawStrongShare {
        target: 0.5,
        window: Some(10),
        min_threshold: Some(0.3),
        max_threshold: Some(0.7),
    })
    .unwrap();
    let ctl = ShareController::default();
    (0..10).for_each(|_| ctl.observe(&bounded, 0.99));
    assert_eq!(ctl.thresholds(&bounded, &CONFIGURED)[1], 0.7);
    let low = ShareController::default();
    (0..10).for_each(|_| low.observe(&bounded, 0.01));
    // Clamped to 0.3, then raised to the cheap/mid threshold before it.
    assert_eq!(low.thresholds(&bounded, &CONFIGURED)[1], 0.4677);
}

#[test]
fn invalid_sections_are_refused() {
    for t in [0.0, 1.0, -0.1, f64::NAN] {
        let raw = RawStrongShare { target: t, ..RawStrongShare::default() };
        assert!(matches!(StrongShare::try_from(raw), Err(ShareError::Target(_))), "{t}");
    }
    let raw = RawStrongShare { target: 0.2, window: Some(9), ..RawStrongShare::default() };
    assert_eq!(StrongShare::try_from(raw), Err(ShareError::Window(9)));
    let raw =
        RawStrongShare { target: 0.2, min_threshold: Some(0.8), max_threshold: Some(0.2), ..RawStrongShare::default() };
    assert_eq!(StrongShare::try_from(raw), Err(ShareError::Bounds));
}

#[test]
fn the_router_decides_with_the_controlled_threshold_once_the_window_is_full() {
    use crate::flow_tests::{decided, router_with};
    let simple = r#"{"model":"auto","messages":[{"role":"user","content":"hi"}]}"#;
    // Every request scores 0.55: mid under the shipped thresholds (0.4677, 0.5992).
    let r = router_with(|v| v["strong_share"] = serde_json::json!({"target": 0.2, "window": 10}), 0.55);
    for i in 0..10 {
        let h = decided(&r, &[], simple);
        assert_eq!(h.state["llm_router_tier"], "mid", "request {i}");
    }
    // The window's 80% quantile is 0.55 itself: the controller lowered the strong threshold.
    assert_eq!(decided(&r, &[], simple).state["llm_router_tier"], "frontier");
}

//! A target share for the strongest tier: the threshold in front of the strongest tier follows
//! recent traffic so that about `target` of the scored requests reach it.
//!
//! Fixed thresholds send a share of traffic to the frontier tier that moves with the traffic
//! mix: a burst of hard requests is a burst of frontier spend. With `strong_share`, the router
//! keeps the scores of the last `window` scored requests (per Envoy worker) and sets the last
//! threshold to their `1 - target` quantile, clamped to `[min_threshold, max_threshold]` and
//! never below the threshold before it. A quantile of a window is bounded by construction (it
//! is one of the recent scores), needs no gain to tune, and does not oscillate: on a steady mix
//! it moves only as much as the window's sample does. It converges once the window is full:
//! until then the configured threshold applies. Requests a rule decided do not count.

use std::cell::RefCell;
use std::collections::VecDeque;

use serde::Deserialize;

/// `strong_share` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStrongShare {
    /// Share of scored requests to send to the strongest tier, in (0, 1).
    pub target: f64,
    /// Scored requests the quantile is taken over (default 500).
    pub window: Option<usize>,
    /// Lowest threshold the controller may set (default 0).
    pub min_threshold: Option<f32>,
    /// Highest threshold the controller may set (default 1).
    pub max_threshold: Option<f32>,
}

/// Why a `strong_share` section is invalid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShareError {
    /// `target` is not strictly between 0 and 1.
    #[error("target must be between 0 and 1 (exclusive), got {0}")]
    Target(f64),
    /// `window` is below 10.
    #[error("window must be at least 10 requests, got {0}")]
    Window(usize),
    /// The bounds are not `0 <= min <= max <= 1`.
    #[error("min_threshold and max_threshold must satisfy 0 <= min <= max <= 1")]
    Bounds,
    /// There is no threshold to move (one tier).
    #[error("needs at least two tiers")]
    OneTier,
}

/// A validated `strong_share` section.
#[derive(Debug, Clone, PartialEq)]
pub struct StrongShare {
    /// Target share.
    pub target: f64,
    /// Window length.
    pub window: usize,
    /// Lowest threshold set.
    pub min_threshold: f32,
    /// Highest threshold set.
    pub max_threshold: f32,
}

impl TryFrom<RawStrongShare> for StrongShare {
    type Error = ShareError;

    fn try_from(raw: RawStrongShare) -> Result<Self, ShareError> {
        if !(raw.target > 0.0 && raw.target < 1.0) {
            return Err(ShareError::Target(raw.target));
        }
        let window = raw.window.unwrap_or(500);
        if window < 10 {
            return Err(ShareError::Window(window));
        }
        let (min_threshold, max_threshold) = (raw.min_threshold.unwrap_or(0.0), raw.max_threshold.unwrap_or(1.0));
        if !(0.0 <= min_threshold && min_threshold <= max_threshold && max_threshold <= 1.0) {
            return Err(ShareError::Bounds);
        }
        Ok(StrongShare { target: raw.target, window, min_threshold, max_threshold })
    }
}

/// The recent scores of one worker.
#[derive(Debug, Default)]
pub struct ShareController {
    scores: RefCell<VecDeque<f32>>,
}

impl ShareController {
    /// Remember one scored request's score.
    pub fn observe(&self, cfg: &StrongShare, score: f32) {
        let mut s = self.scores.borrow_mut();
        if s.len() == cfg.window {
            s.pop_front();
        }
        s.push_back(score);
    }

    /// The thresholds to decide with: `configured` with the last one replaced by the window's
    /// `1 - target` quantile once the window is full.
    pub fn thresholds(&self, cfg: &StrongShare, configured: &[f32]) -> Vec<f32> {
        let mut out = configured.to_vec();
        let s = self.scores.borrow();
        if s.len() != cfg.window {
            return out;
        }
        // A linear-time selection on a copy, not a sort: this runs on every scored request.
        let mut recent: Vec<f32> = s.iter().copied().collect();
        // A request reaches the strongest tier when its score >= the threshold: the k-th
        // largest recent score lets k of the window's requests (k = target * window) through.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
        let strong = ((cfg.target * cfg.window as f64).round() as usize).clamp(1, cfg.window);
        let (_, quantile, _) = recent.select_nth_unstable_by(cfg.window - strong, f32::total_cmp);
        let quantile = *quantile;
        let floor = out.iter().rev().nth(1).copied().unwrap_or(0.0);
        if let Some(top) = out.last_mut() {
            *top = quantile.clamp(cfg.min_threshold, cfg.max_threshold).max(floor);
        }
        out
    }
}

#[cfg(test)]
#[path = "share_tests.rs"]
mod tests;

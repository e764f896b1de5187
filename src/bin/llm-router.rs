//! `llm-router` command line: the same core and embedded model as the filter, natively.
//!
//! ```text
//! llm-router score    [--config FILE]   JSON Lines request bodies on stdin -> one JSON decision per line
//! llm-router features [--config FILE]   JSON Lines request bodies on stdin -> {"features":[...]} per line
//! llm-router features --names           feature names, one per line
//! llm-router calibrate --strong-share S [--cheap-share C] [--config FILE]
//!                                       JSON Lines sample of traffic on stdin -> thresholds that send
//!                                       share S (and C) of it to the strongest (cheapest) tier
//! llm-router export-heuristic           the heuristic classifier as JSON (bias, dense weights)
//! ```
//! Malformed input lines keep their place: an `{"error": ...}` object on stdout, a message on
//! stderr with the line number.

use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

use llm_router::classifier::{heuristic_dense_weights, HEURISTIC_BIAS};
use llm_router::config::{Config, DEFAULT_CONFIG_JSON};
use llm_router::features::{self, feature_names, FEATURE_DIM, FEATURE_VERSION};
use llm_router::request::{parse_body, ChatRequest};
use llm_router::router::Router;

const USAGE: &str = "usage: llm-router <score|features|calibrate|export-heuristic> [--config FILE] [--names] [--strong-share S] [--cheap-share C]";

struct Args {
    command: String,
    config: Option<String>,
    names: bool,
    strong_share: Option<f64>,
    cheap_share: Option<f64>,
}

fn share(v: Option<String>, flag: &str) -> Result<f64, String> {
    let v = v.ok_or_else(|| format!("{flag} needs a number"))?;
    match v.parse::<f64>() {
        Ok(x) if x > 0.0 && x < 1.0 => Ok(x),
        _ => Err(format!("{flag} must be a number strictly between 0 and 1, got `{v}`")),
    }
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let command = it.next().ok_or_else(|| USAGE.to_string())?;
    let mut args = Args { command, config: None, names: false, strong_share: None, cheap_share: None };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--config" => args.config = Some(it.next().ok_or("--config needs a file")?),
            "--names" => args.names = true,
            "--strong-share" => args.strong_share = Some(share(it.next(), "--strong-share")?),
            "--cheap-share" => args.cheap_share = Some(share(it.next(), "--cheap-share")?),
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(args)
}

fn config_bytes(path: Option<&str>) -> Result<Vec<u8>, String> {
    match path {
        Some(p) => std::fs::read(p).map_err(|e| format!("cannot read {p}: {e}")),
        None => Ok(DEFAULT_CONFIG_JSON.as_bytes().to_vec()),
    }
}

fn load_router(path: Option<&str>) -> Result<Router, String> {
    Router::from_json(&config_bytes(path)?).map_err(|e| format!("invalid configuration: {e}"))
}

fn load_config(path: Option<&str>) -> Result<Config, String> {
    Config::from_json(&config_bytes(path)?).map_err(|e| format!("invalid configuration: {e}"))
}

fn each_line(mut f: impl FnMut(usize, &str) -> Result<String, String>) -> Result<usize, String> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut errors = 0;
    for (i, line) in stdin.lock().lines().enumerate() {
        let line = line.map_err(|e| format!("cannot read stdin: {e}"))?;
        let result = match f(i + 1, &line) {
            Ok(s) => s,
            Err(msg) => {
                errors += 1;
                eprintln!("line {}: {msg}", i + 1);
                serde_json::json!({ "error": msg }).to_string()
            }
        };
        writeln!(out, "{result}").map_err(|e| format!("cannot write stdout: {e}"))?;
    }
    out.flush().map_err(|e| format!("cannot write stdout: {e}"))?;
    Ok(errors)
}

fn score(router: &Router) -> Result<usize, String> {
    each_line(|_, line| {
        let d = router.decide_body(line.as_bytes()).map_err(|e| e.to_string())?;
        let tier = router.config.tiers.get(d.tier).ok_or("tier out of range")?;
        Ok(serde_json::json!({
            "score": d.score,
            "tier": tier.name,
            "model": tier.model,
            "reason": d.reason,
        })
        .to_string())
    })
}

fn features_cmd(config: &Config) -> Result<usize, String> {
    let cap = config.max_inspect_chars;
    each_line(|_, line| {
        let v = parse_body(line.as_bytes()).map_err(|e| e.to_string())?;
        let req = ChatRequest::try_from(&v).map_err(|e| e.to_string())?;
        let f = features::extract(&req, cap);
        Ok(serde_json::json!({ "features": f.as_slice() }).to_string())
    })
}

/// The threshold above which the top `share` of `sorted_desc` scores lie: midway between the
/// last score in and the first score out, clamped strictly inside (0, 1).
fn threshold_for_top_share(sorted_desc: &[f32], share: f64) -> f32 {
    let n = sorted_desc.len();
    let k = ((share * n as f64).round() as usize).clamp(1, n.saturating_sub(1).max(1));
    let inside = sorted_desc.get(k - 1).copied().unwrap_or(0.5);
    let outside = sorted_desc.get(k).copied().unwrap_or(inside);
    ((inside + outside) / 2.0).clamp(1e-6, 1.0 - 1e-6)
}

fn calibrate(router: &Router, strong: f64, cheap: Option<f64>) -> Result<usize, String> {
    let stdin = std::io::stdin();
    let mut scores = Vec::new();
    let mut errors = 0;
    for (i, line) in stdin.lock().lines().enumerate() {
        let line = line.map_err(|e| format!("cannot read stdin: {e}"))?;
        let scored = parse_body(line.as_bytes())
            .map_err(|e| e.to_string())
            .and_then(|v| ChatRequest::try_from(&v).map_err(|e| e.to_string()).and_then(|r| router.score(&r).map_err(|e| e.to_string())));
        match scored {
            Ok(s) => scores.push(s),
            Err(e) => {
                errors += 1;
                eprintln!("line {}: {e}", i + 1);
            }
        }
    }
    if scores.len() < 2 {
        return Err("calibrate needs at least two valid requests".into());
    }
    scores.sort_by(|a, b| b.total_cmp(a));
    let tiers = &router.config.tiers;
    let old = &router.config.thresholds;
    let top = threshold_for_top_share(&scores, strong);
    let mut thresholds: Vec<f32> = match (old.len(), cheap) {
        (0, _) => Vec::new(),
        (1, _) => vec![top],
        (n, Some(c)) => {
            if c + strong >= 1.0 {
                return Err("--cheap-share + --strong-share must be below 1".into());
            }
            let low = threshold_for_top_share(&scores, 1.0 - c);
            // Tiers between the cheapest and the strongest split the middle evenly.
            (0..n).map(|i| if i == n - 1 { top } else { low + (top - low) * i as f32 / (n - 1) as f32 }).collect()
        }
        (n, None) => {
            let old_top = old.last().copied().unwrap_or(top);
            old.iter().take(n - 1).map(|t| t * top / old_top).chain(std::iter::once(top)).collect()
        }
    };
    for i in 1..thresholds.len() {
        let prev = thresholds.get(i - 1).copied().unwrap_or(0.0);
        if let Some(t) = thresholds.get_mut(i) {
            if *t <= prev {
                *t = (prev + 1e-6).min(1.0 - 1e-6);
            }
        }
    }
    let strongest = tiers.last().map_or("", |t| t.name.as_str());
    println!("scored {} requests ({errors} malformed skipped) with the {} classifier", scores.len(), router.classifier_name());
    println!("thresholds sending {:.1}% to the strongest tier `{strongest}`:", strong * 100.0);
    let rendered: Vec<String> = thresholds.iter().map(|t| format!("{t:.6}")).collect();
    println!("\"thresholds\": [{}]", rendered.join(", "));
    print!("shares on this sample:");
    for (i, t) in tiers.iter().enumerate() {
        let n = scores
            .iter()
            .filter(|&&s| llm_router::policy::tier_for_score(&thresholds, s) == i)
            .count();
        print!(" {} {:.1}%", t.name, 100.0 * n as f64 / scores.len() as f64);
    }
    println!();
    Ok(0)
}

fn run() -> Result<usize, String> {
    let args = parse_args()?;
    match args.command.as_str() {
        "score" => score(&load_router(args.config.as_deref())?),
        "features" if args.names => {
            for n in feature_names() {
                println!("{n}");
            }
            Ok(0)
        }
        "features" => features_cmd(&load_config(args.config.as_deref())?),
        "calibrate" => {
            let strong = args.strong_share.ok_or("calibrate needs --strong-share")?;
            calibrate(&load_router(args.config.as_deref())?, strong, args.cheap_share)
        }
        "export-heuristic" => {
            let j = serde_json::json!({
                "feature_version": FEATURE_VERSION,
                "dim": FEATURE_DIM,
                "bias": HEURISTIC_BIAS,
                "weights": heuristic_dense_weights(),
            });
            println!("{j}");
            Ok(0)
        }
        _ => Err(USAGE.to_string()),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(0) => ExitCode::SUCCESS,
        Ok(n) => {
            eprintln!("{n} malformed line(s) reported in place");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

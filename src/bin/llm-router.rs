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
//! llm-router export-mlp [IN.onnx OUT.mlp]
//!                                       check the ONNX model is an MLP and write the compact file the
//!                                       filter embeds (default models/router.onnx -> models/router.mlp)
//! llm-router report [FILE|-] [--format table|csv|json] [--since T] [--until T] [--mode M] [--api A]
//!                   [--prices FILE [--baseline-model M]] [--revenue FILE] [--config FILE]
//!                                       Envoy JSON access log -> cost tables per api, model,
//!                                       route, tier and customer
//! llm-router report --quality FILE [--format table|json] [--since T] [--until T] [--api A]
//!                                       judged sample records -> quality by route x tier x model
//! llm-router judge [FILE|-] --output OUT [--heuristic | --model M [--base-url URL] [--api-key K]]
//!                  [--concurrency N] [--max-attempts N] [--timeout S] [--backoff-ms MS] [--max-wait S]
//!                                       shadow sample records -> the same records with a judgement
//!                                       of the routed answer against the reference (resumable)
//! llm-router simulate (--traffic FILE | --requests N --input-tokens N --output-tokens N)
//!                   [--requests N] [--output-tokens N] [--cached-tokens N] [--models a,b]
//!                   [--split a=0.7,b=0.3]... [--no-router] [--api A] [--prices FILE]
//!                   [--config FILE] [--format table|csv|json]
//!                                       monthly cost per strategy vs the all-baseline strategy,
//!                                       split by api
//! ```
//! Malformed input lines keep their place: an `{"error": ...}` object on stdout, a message on
//! stderr with the line number.
//!
//! Arguments are parsed by clap (derive): `--help` and `<subcommand> --help` print help and exit
//! 0; an argument error prints the message with a usage hint and exits 2 (also for the checks
//! that span several flags, reported through clap so they look the same); a failure while
//! running (unreadable file, invalid configuration) exits 1.
#![forbid(unsafe_code)]

use std::fmt::Display;
use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand};
use llm_router::api::Api;
use llm_router::classifier::{heuristic_dense_weights, HEURISTIC_BIAS};
use llm_router::config::{Config, DEFAULT_CONFIG_JSON};
use llm_router::features::{self, feature_names, FEATURE_DIM, FEATURE_VERSION};
use llm_router::report::Format;
use llm_router::request;
use llm_router::router::Router;

/// The same core and embedded model as the Envoy filter, natively.
#[derive(Debug, Parser)]
#[command(name = "llm-router", version, propagate_version = true)]
#[command(
    after_help = "Malformed input lines keep their place: an {\"error\": ...} object on stdout, a message on stderr."
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// JSON Lines request bodies on stdin -> one JSON decision ({"score", "tier", "model", "reason"}) per line
    Score(ConfigArg),
    /// JSON Lines request bodies on stdin -> {"features": [...]} per line
    Features {
        /// Print the feature names, one per line, instead
        #[arg(long)]
        names: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// JSON Lines sample of traffic on stdin -> thresholds that send share S (and C) of it to the
    /// strongest (cheapest) tier
    Calibrate {
        /// Share of the sample for the strongest tier, strictly between 0 and 1
        #[arg(long, value_name = "S", value_parser = share)]
        strong_share: f64,
        /// Share of the sample for the cheapest tier, strictly between 0 and 1
        #[arg(long, value_name = "C", value_parser = share)]
        cheap_share: Option<f64>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// The heuristic classifier as JSON (bias, dense weights)
    ExportHeuristic,
    /// Check an ONNX model is an MLP and write the compact file the filter embeds
    /// (default models/router.onnx -> models/router.mlp)
    ExportMlp {
        /// The ONNX model to read
        #[arg(value_name = "IN.onnx", requires = "output")]
        input: Option<String>,
        /// The compact model to write
        #[arg(value_name = "OUT.mlp")]
        output: Option<String>,
    },
    /// Envoy JSON access log -> cost tables per api, model, route, tier and customer
    Report(ReportArgs),
    /// Monthly cost per strategy vs the all-baseline strategy, split by api
    Simulate(SimulateArgs),
    /// Shadow sample records -> the same records with a judgement of the routed answer against
    /// the reference (a judge model, or --heuristic); resumable
    Judge(JudgeArgs),
}

#[derive(Debug, Args)]
struct ConfigArg {
    /// Plugin configuration JSON (default: the shipped configuration)
    #[arg(long, value_name = "FILE")]
    config: Option<String>,
}

#[derive(Debug, Args)]
struct ReportArgs {
    /// Access log to read (`-` or none: stdin)
    #[arg(value_name = "FILE|-")]
    input: Option<String>,
    /// Output format: table, csv or json
    #[arg(long, default_value = "table", value_parser = format)]
    format: Format,
    /// Keep requests starting at or after this instant
    #[arg(long, value_name = "RFC3339", value_parser = instant)]
    since: Option<i64>,
    /// Keep requests starting before this instant
    #[arg(long, value_name = "RFC3339", value_parser = instant)]
    until: Option<i64>,
    /// Keep only this mode (route or measure)
    #[arg(long, value_name = "M")]
    mode: Option<String>,
    /// Keep only this API (chat_completions, messages; the access log's `api` field)
    #[arg(long, value_name = "A")]
    api: Option<String>,
    /// Re-price the logged tokens with this price table
    #[arg(long, value_name = "FILE")]
    prices: Option<String>,
    /// Baseline model for --prices (default: the configuration's)
    #[arg(long, value_name = "M")]
    baseline_model: Option<String>,
    /// Revenue per customer (margin columns)
    #[arg(long, value_name = "FILE")]
    revenue: Option<String>,
    /// Show budget use per customer, against the `budget` section of this plugin configuration
    #[arg(long, value_name = "CONFIG")]
    budget: Option<String>,
    /// Quality by route x tier x model from judged sample records (`llm-router judge` output)
    /// instead of the access log (table or json; --since, --until and --api apply)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["input", "mode", "prices", "baseline_model", "revenue", "budget"])]
    quality: Option<String>,
    #[command(flatten)]
    config: ConfigArg,
}

#[derive(Debug, Args)]
struct SimulateArgs {
    /// JSON Lines sample of request bodies (`-`: stdin)
    #[arg(long, value_name = "FILE|-")]
    traffic: Option<String>,
    /// Requests per month (with --traffic: the sample is scaled to it)
    #[arg(long, value_name = "N", value_parser = count, allow_hyphen_values = true)]
    requests: Option<u64>,
    /// Input tokens per request (synthetic profile)
    #[arg(long, value_name = "N", value_parser = count, allow_hyphen_values = true)]
    input_tokens: Option<u64>,
    /// Output tokens per request
    #[arg(long, value_name = "N", value_parser = count, allow_hyphen_values = true)]
    output_tokens: Option<u64>,
    /// Cached input tokens per request (synthetic profile)
    #[arg(long, value_name = "N", value_parser = count, allow_hyphen_values = true)]
    cached_tokens: Option<u64>,
    /// Comma-separated models for the all-on-one-model strategies (default: every priced model)
    #[arg(long, value_name = "a,b")]
    models: Option<String>,
    /// A fixed split strategy, e.g. a=0.7,b=0.3 (repeatable)
    #[arg(long, value_name = "a=0.7,b=0.3")]
    split: Vec<String>,
    /// Leave out the router strategy
    #[arg(long)]
    no_router: bool,
    /// API of the synthetic profile, and of sample lines without an `api` member
    /// (chat_completions or messages)
    #[arg(long, value_name = "A", default_value = "chat_completions", value_parser = api)]
    api: Api,
    /// Price table (default: the configuration's)
    #[arg(long, value_name = "FILE")]
    prices: Option<String>,
    /// Output format: table, csv or json
    #[arg(long, default_value = "table", value_parser = format)]
    format: Format,
    #[command(flatten)]
    config: ConfigArg,
}

/// Why the command failed: bad arguments (exit 2, with a usage hint) or a failure while running
/// (exit 1).
#[derive(Debug)]
enum Failure {
    Usage(Box<clap::Error>),
    Run(String),
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Run(message)
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Self {
        Failure::Run(message.to_string())
    }
}

/// An argument error found after parsing (a combination of flags), in clap's format with the
/// subcommand's usage line.
fn usage_error(subcommand: &str, message: impl Display) -> Failure {
    let mut cmd = Cli::command();
    cmd.build();
    let err = match cmd.find_subcommand_mut(subcommand) {
        Some(sub) => sub.error(ErrorKind::ArgumentConflict, message),
        None => cmd.error(ErrorKind::ArgumentConflict, message),
    };
    Failure::Usage(Box::new(err))
}

fn share(v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(x) if x > 0.0 && x < 1.0 => Ok(x),
        _ => Err(format!("must be a number strictly between 0 and 1, got `{v}`")),
    }
}

/// A non-negative integer (digits only).
fn count(v: &str) -> Result<u64, String> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("must be a non-negative integer, got `{v}`"));
    }
    v.parse::<u64>().map_err(|e| format!("`{v}`: {e}"))
}

fn format(v: &str) -> Result<Format, String> {
    v.parse().map_err(|e: llm_router::report::ReportError| e.to_string())
}

fn api(v: &str) -> Result<Api, String> {
    Api::from_label(v).ok_or_else(|| {
        let known: Vec<&str> = Api::ALL.iter().map(|a| a.label()).collect();
        format!("unknown api `{v}`: use {}", known.join(" or "))
    })
}

fn instant(v: &str) -> Result<i64, String> {
    llm_router::accesslog::parse_rfc3339(v).map_err(|e| e.to_string())
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
        let req = request::parse(line.as_bytes()).map_err(|e| e.to_string())?;
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
        let scored = request::parse(line.as_bytes())
            .map_err(|e| e.to_string())
            .and_then(|r| router.score(&r).map_err(|e| e.to_string()));
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
        // `run` rejected `c + strong >= 1` as an argument error.
        (n, Some(c)) => {
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
    println!(
        "scored {} requests ({errors} malformed skipped) with the {} classifier",
        scores.len(),
        router.classifier_name()
    );
    println!("thresholds sending {:.1}% to the strongest tier `{strongest}`:", strong * 100.0);
    let rendered: Vec<String> = thresholds.iter().map(|t| format!("{t:.6}")).collect();
    println!("\"thresholds\": [{}]", rendered.join(", "));
    print!("shares on this sample:");
    for (i, t) in tiers.iter().enumerate() {
        let n = scores.iter().filter(|&&s| llm_router::policy::tier_for_score(&thresholds, s) == i).count();
        print!(" {} {:.1}%", t.name, 100.0 * n as f64 / scores.len() as f64);
    }
    println!();
    Ok(0)
}

// `report` and `simulate` (the measurement commands) live in their own file.
#[path = "llm-router/measure.rs"]
mod measure;
use measure::{report_cmd, simulate_cmd};

// `judge` (HTTP client, threads, resumable output) lives in its own file.
#[path = "llm-router/judge.rs"]
mod judge;
use judge::{judge_cmd, JudgeArgs};

fn export_mlp(input: Option<String>, output: Option<String>) -> Result<usize, String> {
    let root = env!("CARGO_MANIFEST_DIR");
    // clap lets IN through only together with OUT (a single path is IN and is rejected).
    let input = input.unwrap_or_else(|| format!("{root}/models/router.onnx"));
    let output = output.unwrap_or_else(|| format!("{root}/models/router.mlp"));
    let onnx = std::fs::read(&input).map_err(|e| format!("cannot read {input}: {e}"))?;
    let mlp = llm_router::classifier::onnx_to_mlp(&onnx).map_err(|e| e.to_string())?;
    llm_router::classifier::TractClassifier::from_mlp(&mlp).map_err(|e| format!("exported model does not run: {e}"))?;
    std::fs::write(&output, &mlp).map_err(|e| format!("cannot write {output}: {e}"))?;
    eprintln!("wrote {output} ({} bytes) from {input} ({} bytes)", mlp.len(), onnx.len());
    Ok(0)
}

fn run(cli: Cli) -> Result<usize, Failure> {
    match cli.command {
        Cmd::Score(c) => Ok(score(&load_router(c.config.as_deref())?)?),
        Cmd::Features { names: true, .. } => {
            for n in feature_names() {
                println!("{n}");
            }
            Ok(0)
        }
        Cmd::Features { config, .. } => Ok(features_cmd(&load_config(config.config.as_deref())?)?),
        Cmd::Calibrate { strong_share, cheap_share, config } => {
            if cheap_share.is_some_and(|c| c + strong_share >= 1.0) {
                return Err(usage_error("calibrate", "--cheap-share + --strong-share must be below 1"));
            }
            Ok(calibrate(&load_router(config.config.as_deref())?, strong_share, cheap_share)?)
        }
        Cmd::ExportMlp { input, output } => Ok(export_mlp(input, output)?),
        Cmd::ExportHeuristic => {
            let j = serde_json::json!({
                "feature_version": FEATURE_VERSION,
                "dim": FEATURE_DIM,
                "bias": HEURISTIC_BIAS,
                "weights": heuristic_dense_weights(),
            });
            println!("{j}");
            Ok(0)
        }
        Cmd::Report(args) => report_cmd(args),
        Cmd::Simulate(args) => simulate_cmd(args),
        Cmd::Judge(args) => judge_cmd(args),
    }
}

fn main() -> ExitCode {
    // `--help`, `--version` and argument errors end here (exit 0, 0 and 2).
    let cli = Cli::parse();
    match run(cli) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(n) => {
            eprintln!("{n} malformed line(s) reported in place");
            ExitCode::SUCCESS
        }
        Err(Failure::Usage(e)) => e.exit(),
        Err(Failure::Run(e)) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

//! `llm-router` command line: the same core and embedded model as the filter, natively.
//!
//! ```text
//! llm-router score    [--config FILE]   JSON Lines request bodies on stdin -> one JSON decision per line
//! llm-router features [--config FILE]   JSON Lines request bodies on stdin -> {"features":[...]} per line
//! llm-router features --names           feature names, one per line
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

const USAGE: &str = "usage: llm-router <score|features|export-heuristic> [--config FILE] [--names]";

struct Args {
    command: String,
    config: Option<String>,
    names: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let command = it.next().ok_or_else(|| USAGE.to_string())?;
    let mut args = Args { command, config: None, names: false };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--config" => args.config = Some(it.next().ok_or("--config needs a file")?),
            "--names" => args.names = true,
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

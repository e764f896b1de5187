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
//! llm-router report [FILE|-] [--format table|csv|json] [--since T] [--until T] [--mode M]
//!                   [--prices FILE [--baseline-model M]] [--revenue FILE] [--config FILE]
//!                                       Envoy JSON access log -> cost tables per model, route,
//!                                       tier and customer
//! llm-router simulate (--traffic FILE | --requests N --input-tokens N --output-tokens N)
//!                   [--requests N] [--output-tokens N] [--cached-tokens N] [--models a,b]
//!                   [--split a=0.7,b=0.3]... [--no-router] [--prices FILE] [--config FILE]
//!                   [--format table|csv|json]
//!                                       monthly cost per strategy vs the all-baseline strategy
//! ```
//! Malformed input lines keep their place: an `{"error": ...}` object on stdout, a message on
//! stderr with the line number.
#![forbid(unsafe_code)]

use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

use llm_router::classifier::{heuristic_dense_weights, HEURISTIC_BIAS};
use llm_router::config::{Config, DEFAULT_CONFIG_JSON};
use llm_router::features::{self, feature_names, FEATURE_DIM, FEATURE_VERSION};
use llm_router::request::{parse_body, ChatRequest};
use llm_router::router::Router;

const USAGE: &str = "usage: llm-router <score|features|calibrate|report|simulate|export-mlp|export-heuristic> [--config FILE] [--names] [--strong-share S] [--cheap-share C]
       llm-router report [FILE|-] [--format table|csv|json] [--since RFC3339] [--until RFC3339] [--mode route|measure] [--prices FILE] [--baseline-model M] [--revenue FILE] [--config FILE]
       llm-router simulate (--traffic FILE|- | --requests N --input-tokens N --output-tokens N) [--requests N] [--output-tokens N] [--cached-tokens N] [--models a,b] [--split a=0.7,b=0.3]... [--no-router] [--prices FILE] [--config FILE] [--format table|csv|json]";

struct Args {
    command: String,
    config: Option<String>,
    names: bool,
    strong_share: Option<f64>,
    cheap_share: Option<f64>,
    rest: Vec<String>,
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
    let mut args = Args { command, config: None, names: false, strong_share: None, cheap_share: None, rest: Vec::new() };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--config" => args.config = Some(it.next().ok_or("--config needs a file")?),
            "--names" => args.names = true,
            "--strong-share" => args.strong_share = Some(share(it.next(), "--strong-share")?),
            "--cheap-share" => args.cheap_share = Some(share(it.next(), "--cheap-share")?),
            "-h" | "--help" => return Err(USAGE.to_string()),
            other if !other.starts_with('-') && args.command == "export-mlp" => args.rest.push(other.to_string()),
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

/// The value after `flag`.
fn flag_value(it: &mut impl Iterator<Item = String>, flag: &str) -> Result<String, String> {
    it.next().ok_or_else(|| format!("{flag} needs a value"))
}

/// A non-negative integer flag value (digits only).
fn flag_count(it: &mut impl Iterator<Item = String>, flag: &str) -> Result<u64, String> {
    let v = flag_value(it, flag)?;
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{flag} must be a non-negative integer, got `{v}`"));
    }
    v.parse::<u64>().map_err(|e| format!("{flag} `{v}`: {e}"))
}

fn read_text(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

/// Lines of a file, or of stdin for `-`; invalid UTF-8 is replaced (such lines are then skipped
/// as not JSON by the callers).
fn for_each_input_line(path: &str, mut f: impl FnMut(usize, &str)) -> Result<(), String> {
    let reader: Box<dyn BufRead> = if path == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(std::fs::File::open(path).map_err(|e| format!("cannot read {path}: {e}"))?))
    };
    let mut reader = reader;
    let mut buf = Vec::new();
    let mut n = 0;
    loop {
        buf.clear();
        let read = reader.read_until(b'\n', &mut buf).map_err(|e| format!("cannot read {path}: {e}"))?;
        if read == 0 {
            return Ok(());
        }
        n += 1;
        let line = String::from_utf8_lossy(&buf);
        f(n, line.trim_end_matches(['\n', '\r']));
    }
}

fn price_table_file(path: &str) -> Result<llm_router::pricing::PriceTable, String> {
    llm_router::pricing::PriceTable::from_json(&read_text(path)?).map_err(|e| format!("{path}: {e}"))
}

fn report_cmd(argv: Vec<String>) -> Result<usize, String> {
    use llm_router::accesslog::parse_rfc3339;
    use llm_router::report::{Format, Report, ReportOptions, Reprice, Revenue};
    let mut it = argv.into_iter();
    let mut input: Option<String> = None;
    let mut format = Format::Table;
    let mut options = ReportOptions::default();
    let (mut prices, mut baseline, mut config) = (None, None, None);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--format" => format = flag_value(&mut it, "--format")?.parse().map_err(|e: llm_router::report::ReportError| e.to_string())?,
            "--since" => options.since = Some(parse_rfc3339(&flag_value(&mut it, "--since")?).map_err(|e| format!("--since: {e}"))?),
            "--until" => options.until = Some(parse_rfc3339(&flag_value(&mut it, "--until")?).map_err(|e| format!("--until: {e}"))?),
            "--mode" => options.mode = Some(flag_value(&mut it, "--mode")?),
            "--prices" => prices = Some(flag_value(&mut it, "--prices")?),
            "--baseline-model" => baseline = Some(flag_value(&mut it, "--baseline-model")?),
            "--config" => config = Some(flag_value(&mut it, "--config")?),
            "--revenue" => {
                let path = flag_value(&mut it, "--revenue")?;
                options.revenue = Some(Revenue::parse(&read_text(&path)?).map_err(|e| format!("{path}: {e}"))?);
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other if other.starts_with("--") => return Err(format!("unknown argument `{other}`\n{USAGE}")),
            other if input.is_none() => input = Some(other.to_string()),
            other => return Err(format!("report reads one access log, got a second: `{other}`")),
        }
    }
    if let Some(path) = prices {
        let table = price_table_file(&path)?;
        let baseline_model = match baseline {
            Some(b) => b,
            None => load_config(config.as_deref())?.baseline_model,
        };
        if table.lookup(&baseline_model).is_none() {
            return Err(format!("baseline model `{baseline_model}` is not in {path}; pass --baseline-model"));
        }
        options.reprice = Some(Reprice { table, baseline_model });
    } else if baseline.is_some() {
        return Err("--baseline-model only applies with --prices".into());
    }
    let mut report = Report::new(options);
    for_each_input_line(input.as_deref().unwrap_or("-"), |_, line| report.add_line(line))?;
    for (line, message) in &report.invalid_examples {
        eprintln!("line {line}: skipped: {message}");
    }
    print!("{}", report.render(format));
    Ok(0)
}

fn simulate_cmd(argv: Vec<String>) -> Result<usize, String> {
    use llm_router::report::Format;
    use llm_router::simulate::{self, SampleRequest, Split, Strategy, Traffic};
    use llm_router::usage::Usage;
    let mut it = argv.into_iter();
    let (mut traffic_file, mut requests, mut input, mut output, mut cached) = (None, None, None, None, None);
    let (mut models, mut splits, mut prices, mut config) = (None, Vec::new(), None, None);
    let mut router_strategy = true;
    let mut format = Format::Table;
    while let Some(a) = it.next() {
        match a.as_str() {
            "--traffic" => traffic_file = Some(flag_value(&mut it, "--traffic")?),
            "--requests" => requests = Some(flag_count(&mut it, "--requests")?),
            "--input-tokens" => input = Some(flag_count(&mut it, "--input-tokens")?),
            "--output-tokens" => output = Some(flag_count(&mut it, "--output-tokens")?),
            "--cached-tokens" => cached = Some(flag_count(&mut it, "--cached-tokens")?),
            "--models" => models = Some(flag_value(&mut it, "--models")?),
            "--split" => splits.push(flag_value(&mut it, "--split")?),
            "--no-router" => router_strategy = false,
            "--prices" => prices = Some(flag_value(&mut it, "--prices")?),
            "--config" => config = Some(flag_value(&mut it, "--config")?),
            "--format" => format = flag_value(&mut it, "--format")?.parse().map_err(|e: llm_router::report::ReportError| e.to_string())?,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    let router = load_router(config.as_deref())?;
    let table = match &prices {
        Some(path) => price_table_file(path)?,
        None => router.config.prices.clone(),
    };
    let mut skipped = 0;
    let traffic = match traffic_file {
        Some(path) => {
            if input.is_some() || cached.is_some() {
                return Err("--input-tokens/--cached-tokens describe a synthetic profile; with --traffic input tokens are estimated from each body".into());
            }
            let mut sample = Vec::new();
            for_each_input_line(&path, |n, line| {
                if line.trim().is_empty() {
                    return;
                }
                match SampleRequest::from_line(line, &router, output) {
                    Ok(r) => sample.push(r),
                    Err(e) => {
                        skipped += 1;
                        eprintln!("line {n}: skipped: {e}");
                    }
                }
            })?;
            let monthly_requests = requests.unwrap_or(sample.len() as u64);
            Traffic::Sample { requests: sample, monthly_requests }
        }
        None => {
            let need = |v: Option<u64>, flag: &str| v.ok_or_else(|| format!("a synthetic profile needs {flag} (or give --traffic FILE)"));
            Traffic::Synthetic {
                requests: need(requests, "--requests")?,
                usage: Usage {
                    prompt_tokens: need(input, "--input-tokens")?,
                    completion_tokens: need(output, "--output-tokens")?,
                    cached_tokens: cached.unwrap_or(0),
                },
            }
        }
    };
    if let Traffic::Synthetic { usage, .. } = &traffic {
        if usage.cached_tokens > usage.prompt_tokens {
            return Err("--cached-tokens cannot exceed --input-tokens".into());
        }
    }
    let mut strategies = Vec::new();
    match &models {
        Some(list) => {
            for m in list.split(',').map(str::trim).filter(|m| !m.is_empty()) {
                let price = table.lookup(m).ok_or_else(|| format!("model `{m}` is not in the price table"))?;
                strategies.push(Strategy::AllOn(price.id.clone()));
            }
        }
        None => strategies.extend(table.models().map(|m| Strategy::AllOn(m.id.clone()))),
    }
    for spec in &splits {
        strategies.push(Strategy::Split(Split::parse(spec, &table).map_err(|e| e.to_string())?));
    }
    if router_strategy && matches!(traffic, Traffic::Sample { .. }) {
        strategies.push(Strategy::Router);
    }
    let projections = simulate::project(&traffic, &table, &router.config.baseline_model, &strategies).map_err(|e| e.to_string())?;
    match format {
        Format::Table => print!("{}", simulate::render_table(&traffic, &table, &projections)),
        Format::Csv => print!("{}", simulate::render_csv(&projections)),
        Format::Json => println!("{}", simulate::render_json(&traffic, &table, &projections)),
    }
    if skipped > 0 {
        eprintln!("{skipped} sample line(s) skipped");
    }
    Ok(0)
}

fn export_mlp(paths: &[String]) -> Result<usize, String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let (input, output) = match paths {
        [] => (format!("{root}/models/router.onnx"), format!("{root}/models/router.mlp")),
        [i, o] => (i.clone(), o.clone()),
        _ => return Err("export-mlp takes no paths or IN.onnx OUT.mlp".into()),
    };
    let onnx = std::fs::read(&input).map_err(|e| format!("cannot read {input}: {e}"))?;
    let mlp = llm_router::classifier::onnx_to_mlp(&onnx).map_err(|e| e.to_string())?;
    llm_router::classifier::TractClassifier::from_mlp(&mlp).map_err(|e| format!("exported model does not run: {e}"))?;
    std::fs::write(&output, &mlp).map_err(|e| format!("cannot write {output}: {e}"))?;
    eprintln!("wrote {output} ({} bytes) from {input} ({} bytes)", mlp.len(), onnx.len());
    Ok(0)
}

fn run() -> Result<usize, String> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match argv.first().map(String::as_str) {
        Some("report") => return report_cmd(argv.into_iter().skip(1).collect()),
        Some("simulate") => return simulate_cmd(argv.into_iter().skip(1).collect()),
        _ => {}
    }
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
        "export-mlp" => export_mlp(&args.rest),
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

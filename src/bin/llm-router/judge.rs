//! `llm-router judge`: grade the routed answer of each shadow sample record against its
//! reference, with a judge model behind any OpenAI-compatible chat completions endpoint or with
//! the `--heuristic` rules. The rubric, the prompt, the verdict parsing and the heuristic are the
//! core's ([`llm_router::judge`]); this file does the HTTP, the retries, the threads, the
//! progress and the resumable output file. docs/quality.md describes every flag.

use std::collections::{HashSet, VecDeque};
use std::fs::OpenOptions;
use std::io::{IsTerminal, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use llm_router::judge;
use llm_router::sample::{read_line, Judgement, Sample, Verdict};
use serde_json::{Map, Value};

use super::*;

/// Flags first, then these variables, in this order.
const ENV_BASE_URL: [&str; 2] = ["LLM_ROUTER_JUDGE_BASE_URL", "OPENAI_BASE_URL"];
const ENV_MODEL: [&str; 1] = ["LLM_ROUTER_JUDGE_MODEL"];
const ENV_API_KEY: [&str; 2] = ["LLM_ROUTER_JUDGE_API_KEY", "OPENAI_API_KEY"];
/// The OpenAI SDKs' default base URL, used when neither the flag nor a variable gives one.
const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

#[derive(Debug, Args)]
pub(super) struct JudgeArgs {
    /// Sample records (JSON Lines; `-` or none: stdin)
    #[arg(value_name = "FILE|-")]
    input: Option<String>,
    /// Output (JSON Lines: each record with a `judgement` member). Appended to: records whose id
    /// is already in it are skipped, so an interrupted run resumes where it stopped
    #[arg(long, short, value_name = "FILE")]
    output: String,
    /// No judge model: grade by the documented defect rules (a weak signal)
    #[arg(long, conflicts_with_all = ["model", "base_url", "api_key", "reasoning"])]
    heuristic: bool,
    /// OpenAI-compatible base URL (env LLM_ROUTER_JUDGE_BASE_URL, OPENAI_BASE_URL; default
    /// https://api.openai.com/v1); `/chat/completions` is appended
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Judge model (env LLM_ROUTER_JUDGE_MODEL)
    #[arg(long, value_name = "M")]
    model: Option<String>,
    /// The judge is a reasoning model (OpenAI o-series, gpt-5): send `max_completion_tokens`
    /// instead of `temperature` and `max_tokens`, which those models refuse
    #[arg(long)]
    reasoning: bool,
    /// API key, sent as a bearer token (env LLM_ROUTER_JUDGE_API_KEY, OPENAI_API_KEY; none: no
    /// authorization header)
    #[arg(long, value_name = "KEY")]
    api_key: Option<String>,
    /// Judge calls in flight (threads)
    #[arg(long, value_name = "N", default_value = "4", value_parser = positive)]
    concurrency: u64,
    /// Judge calls per record at most (HTTP retries and malformed verdicts together)
    #[arg(long, value_name = "N", default_value = "5", value_parser = positive)]
    max_attempts: u64,
    /// Timeout of one judge call, seconds
    #[arg(long, value_name = "S", default_value = "60", value_parser = positive)]
    timeout: u64,
    /// First retry wait, milliseconds; doubled per attempt up to --max-wait
    #[arg(long, value_name = "MS", default_value = "500", value_parser = count)]
    backoff_ms: u64,
    /// Longest wait between attempts, seconds (also caps a `retry-after`)
    #[arg(long, value_name = "S", default_value = "60", value_parser = count)]
    max_wait: u64,
}

fn positive(v: &str) -> Result<u64, String> {
    match count(v)? {
        0 => Err("must be at least 1".into()),
        n => Ok(n),
    }
}

fn flag_or_env(flag: Option<String>, vars: &[&str]) -> Option<String> {
    flag.or_else(|| vars.iter().find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty())))
}

/// How to reach the judge.
struct Endpoint {
    url: String,
    model: String,
    reasoning: bool,
    api_key: Option<String>,
    agent: ureq::Agent,
    max_attempts: u32,
    backoff: Duration,
    max_wait: Duration,
}

/// One judge call's outcome.
enum Call {
    /// A 2xx body.
    Body(String),
    /// Worth another attempt (429, 408, 5xx, timeout, connection error), with the server's wait.
    Retry { why: String, retry_after: Option<Duration> },
    /// This record cannot be judged (another 4xx).
    Fail(String),
    /// No record can be (401, 403, 404): the run stops.
    Fatal(String),
}

impl Endpoint {
    fn call(&self, body: &str) -> Call {
        let mut req = self.agent.post(&self.url).header("content-type", "application/json");
        if let Some(key) = &self.api_key {
            req = req.header("authorization", format!("Bearer {key}"));
        }
        let resp = match req.send(body) {
            Ok(r) => r,
            Err(e) => return Call::Retry { why: format!("judge call failed: {e}"), retry_after: None },
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = match resp.into_body().read_to_string() {
            Ok(t) => t,
            Err(e) => return Call::Retry { why: format!("judge answer unreadable: {e}"), retry_after: None },
        };
        let snippet: String = text.chars().take(200).collect();
        match status {
            200..=299 => Call::Body(text),
            408 | 429 | 500..=599 => Call::Retry { why: format!("judge status {status}: {snippet}"), retry_after },
            401 | 403 | 404 => Call::Fatal(format!("judge endpoint {} answered {status}: {snippet}", self.url)),
            _ => Call::Fail(format!("judge status {status}: {snippet}")),
        }
    }

    fn wait(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let doubled = self.backoff.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        retry_after.unwrap_or(doubled).min(self.max_wait)
    }

    /// The judgement of one record (whose answers both succeeded), or the reason to stop.
    fn judge(&self, sample: &Sample) -> Result<Judgement, String> {
        let swap = judge::swapped(&sample.id);
        let body = judge::request_body(&self.model, sample, swap, self.reasoning).to_string();
        let done = |verdict: Option<Verdict>, reason: String, attempts: u32, error: Option<String>| Judgement {
            verdict,
            judge: self.model.clone(),
            reason,
            swapped: swap,
            attempts,
            error,
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (why, retry_after) = match self.call(&body) {
                Call::Body(text) => match judge::completion_text(&text).and_then(|m| judge::parse_verdict(&m, swap)) {
                    Ok((verdict, reason)) => return Ok(done(Some(verdict), reason, attempts, None)),
                    Err(e) => (e.to_string(), None),
                },
                Call::Retry { why, retry_after } => (why, retry_after),
                Call::Fail(why) => return Ok(done(None, String::new(), attempts, Some(why))),
                Call::Fatal(why) => return Err(why),
            };
            if attempts >= self.max_attempts {
                let error = format!("{why} (gave up after {attempts} attempts)");
                return Ok(done(None, String::new(), attempts, Some(error)));
            }
            std::thread::sleep(self.wait(attempts, retry_after));
        }
    }
}

/// Ids already in the output file. A last line without its newline (a run killed mid-write) is
/// cut off, so the record is judged again rather than glued to the next one.
fn done_ids(path: &str) -> Result<(HashSet<String>, u64), String> {
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((HashSet::new(), 0)),
        Err(e) => return Err(format!("cannot read {path}: {e}")),
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(|e| format!("cannot read {path}: {e}"))?;
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    if complete < bytes.len() {
        eprintln!(
            "{path}: cutting off an unfinished last line ({} bytes); its record is judged again",
            bytes.len() - complete
        );
        file.set_len(complete as u64).map_err(|e| format!("cannot truncate {path}: {e}"))?;
        file.seek(SeekFrom::End(0)).map_err(|e| format!("cannot seek {path}: {e}"))?;
    }
    let mut ids = HashSet::new();
    let mut unreadable = 0;
    for line in String::from_utf8_lossy(bytes.get(..complete).unwrap_or_default()).lines() {
        match serde_json::from_str::<Value>(line).ok().and_then(|v| v.get("id")?.as_str().map(str::to_string)) {
            Some(id) => {
                ids.insert(id);
            }
            None if line.trim().is_empty() => {}
            None => unreadable += 1,
        }
    }
    Ok((ids, unreadable))
}

/// Counts for the progress line and the summary.
#[derive(Debug, Default)]
struct Counts {
    win: u64,
    tie: u64,
    loss: u64,
    errors: u64,
    reference_failed: u64,
}

impl Counts {
    fn add(&mut self, j: &Judgement) {
        match j.verdict {
            Some(Verdict::Win) => self.win += 1,
            Some(Verdict::Tie) => self.tie += 1,
            Some(Verdict::Loss) => self.loss += 1,
            None => self.errors += 1,
        }
    }

    fn line(&self) -> String {
        format!("win {} tie {} loss {} judge errors {}", self.win, self.tie, self.loss, self.errors)
    }
}

/// A bar redrawn in place on a terminal; a plain line every 10 s otherwise (logs, CI).
struct Progress {
    total: usize,
    done: usize,
    tty: bool,
    start: Instant,
    last: Instant,
}

impl Progress {
    fn new(total: usize) -> Progress {
        let now = Instant::now();
        Progress { total, done: 0, tty: std::io::stderr().is_terminal(), start: now, last: now }
    }

    fn step(&mut self, counts: &Counts) {
        self.done += 1;
        let rate = self.done as f64 / self.start.elapsed().as_secs_f64().max(1e-3);
        if self.tty {
            let filled = (30 * self.done).checked_div(self.total).unwrap_or(30);
            let bar: String = (0..30).map(|i| if i < filled { '#' } else { '.' }).collect();
            eprint!("\r[{bar}] {}/{} {} ({rate:.1}/s) ", self.done, self.total, counts.line());
        } else if self.last.elapsed() >= Duration::from_secs(10) || self.done == self.total {
            self.last = Instant::now();
            eprintln!("judged {}/{}: {} ({rate:.1}/s)", self.done, self.total, counts.line());
        }
    }

    fn finish(&self) {
        if self.tty && self.total > 0 {
            eprintln!();
        }
    }
}

fn endpoint(args: &JudgeArgs) -> Result<Endpoint, Failure> {
    let model = flag_or_env(args.model.clone(), &ENV_MODEL).ok_or_else(|| {
        usage_error("judge", "a judge model is needed: --model or LLM_ROUTER_JUDGE_MODEL (or use --heuristic)")
    })?;
    let base = flag_or_env(args.base_url.clone(), &ENV_BASE_URL).unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
    let base = base.trim_end_matches('/');
    let url = if base.ends_with("/chat/completions") { base.to_string() } else { format!("{base}/chat/completions") };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(usage_error("judge", format!("the base URL must start with http:// or https://, got `{base}`")));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(args.timeout)))
        .http_status_as_error(false)
        .build()
        .into();
    Ok(Endpoint {
        url,
        model,
        reasoning: args.reasoning,
        api_key: flag_or_env(args.api_key.clone(), &ENV_API_KEY),
        agent,
        max_attempts: u32::try_from(args.max_attempts).unwrap_or(u32::MAX),
        backoff: Duration::from_millis(args.backoff_ms),
        max_wait: Duration::from_secs(args.max_wait),
    })
}

type Job = (Sample, Map<String, Value>);

pub(super) fn judge_cmd(args: JudgeArgs) -> Result<usize, Failure> {
    let endpoint = if args.heuristic { None } else { Some(Arc::new(endpoint(&args)?)) };
    let judge_name = endpoint.as_ref().map_or_else(|| "heuristic".to_string(), |e| e.model.clone());
    let (done, unreadable) = done_ids(&args.output)?;
    if unreadable > 0 {
        eprintln!("{}: {unreadable} line(s) without a readable id (kept, not resumed from)", args.output);
    }
    let mut out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&args.output)
        .map_err(|e| format!("cannot write {}: {e}", args.output))?;
    let (mut bad, mut already, mut duplicate) = (0u64, 0u64, 0u64);
    let mut seen = HashSet::new();
    let mut jobs: VecDeque<Job> = VecDeque::new();
    let mut counts = Counts::default();
    let mut write = |object: Map<String, Value>, j: &Judgement| -> Result<(), String> {
        let mut object = object;
        object.insert("judgement".into(), j.to_json());
        let line = Value::Object(object).to_string() + "\n";
        out.write_all(line.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| format!("cannot write {}: {e}", args.output))
    };
    super::measure::for_each_input_line(args.input.as_deref().unwrap_or("-"), |n, line| {
        if line.trim().is_empty() {
            return;
        }
        match read_line(line) {
            Err(e) => {
                bad += 1;
                eprintln!("line {n}: skipped: {e}");
            }
            Ok((s, _)) if done.contains(&s.id) => already += 1,
            Ok((s, _)) if !seen.insert(s.id.clone()) => duplicate += 1,
            Ok(job) => jobs.push_back(job),
        }
    })?;
    let mut progress = Progress::new(jobs.len());
    let mut queue = VecDeque::new();
    for (sample, object) in jobs {
        let ready = match (sample.reference.failure(), &endpoint) {
            (Some(why), _) => {
                counts.reference_failed += 1;
                Some(Judgement {
                    verdict: None,
                    judge: judge_name.clone(),
                    reason: String::new(),
                    swapped: false,
                    attempts: 0,
                    error: Some(format!("reference failed: {why}")),
                })
            }
            // A routed answer that failed, or heuristic mode: no judge call.
            (None, None) => Some(judge::heuristic_judgement(&sample)),
            (None, Some(_)) if !sample.routed.succeeded() => Some(judge::heuristic_judgement(&sample)),
            (None, Some(_)) => None,
        };
        match ready {
            Some(j) => {
                if j.error.is_none() {
                    counts.add(&j);
                }
                write(object, &j)?;
                progress.step(&counts);
            }
            None => queue.push_back((sample, object)),
        }
    }
    let mut fatal = None;
    if let Some(endpoint) = endpoint {
        // No more threads than records left to judge.
        let threads = args.concurrency.min(queue.len() as u64);
        let queue = Arc::new(Mutex::new(queue));
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel::<(Map<String, Value>, Result<Judgement, String>)>();
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (queue, stop, tx, endpoint) = (queue.clone(), stop.clone(), tx.clone(), endpoint.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let Some((sample, object)) = queue.lock().ok().and_then(|mut q| q.pop_front()) else {
                            return;
                        };
                        let result = endpoint.judge(&sample);
                        if result.is_err() {
                            stop.store(true, Ordering::Relaxed);
                        }
                        if tx.send((object, result)).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        for (object, result) in rx {
            match result {
                Ok(j) => {
                    counts.add(&j);
                    write(object, &j)?;
                    progress.step(&counts);
                }
                Err(why) => fatal = fatal.or(Some(why)),
            }
        }
        for w in workers {
            let _ = w.join();
        }
    }
    progress.finish();
    eprintln!(
        "judge {judge_name}: {} written ({}; reference failed {}); skipped: {already} already in {}, {duplicate} duplicate id, {bad} invalid line(s)",
        progress.done,
        counts.line(),
        counts.reference_failed,
        args.output
    );
    match fatal {
        Some(why) => Err(format!("stopped: {why}; the records judged so far are in {}", args.output).into()),
        None => Ok(0),
    }
}

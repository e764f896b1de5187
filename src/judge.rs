//! The pure steps of `llm-router judge`: the fixed rubric, the judge request, the parsing of the
//! judge's verdict, the per-record position swap, and the `--heuristic` grader. The CLI
//! (src/bin/llm-router/judge.rs) does the HTTP, the threads and the files.
//!
//! Position bias: judge models prefer one answer slot. Each record shows the routed answer as
//! answer A or as answer B, decided by a hash of the record id ([`swapped`]): about half of the
//! records each way, the same way again when a run is resumed or repeated, and recorded in the
//! output (`swapped`), so a report can check the two halves agree.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::sample::{Finish, Judgement, Sample, Verdict};

/// The rubric, sent as the system message of every judge call. Fixed: changing it changes what
/// the verdicts mean, so it is versioned with the code and documented in docs/quality.md.
pub const RUBRIC: &str = "You are grading two answers to the same user request for an LLM router that sends \
easy requests to cheaper models. Decide which answer serves the user better, judging only by: \
(1) correctness: facts, reasoning, arithmetic and code are right; a wrong answer loses to a right one whatever its style; \
(2) completeness: it does everything the request asked, in the format it asked for (for example valid JSON when JSON was asked); \
(3) helpfulness: it addresses the actual request directly; an unjustified refusal, an empty answer or an answer cut off mid-way is worse than a real answer; \
(4) clarity: only when the answers are equal on (1)-(3). \
Do not prefer an answer for being longer, for its position, or for the model that wrote it. \
Answer \"tie\" when both are about equally good or equally bad for the user. \
A note may say that the router capped a text for storage: do not count that cut against the answer. \
Reply with one JSON object and nothing else: {\"verdict\": \"A\" | \"B\" | \"tie\", \"reason\": \"<one short sentence>\"}";

/// Longest reason kept from a judge (characters).
pub const MAX_REASON_CHARS: usize = 300;

/// Whether this record shows the routed answer second (as answer B): the low bit of the first
/// byte of SHA-256(id).
pub fn swapped(id: &str) -> bool {
    Sha256::digest(id.as_bytes()).first().is_some_and(|b| b & 1 == 1)
}

fn answer_block(label: &str, text: &str, finish: Option<Finish>, capped: bool) -> String {
    let mut notes = Vec::new();
    if capped {
        notes.push("the router capped this text for storage; the user saw more".to_string());
    }
    if let Some(f) = finish {
        notes.push(format!("finish reason: {}", f.label()));
    }
    let notes = if notes.is_empty() { String::new() } else { format!(" ({})", notes.join("; ")) };
    format!("[Answer {label}]{notes}\n{text}\n[End of answer {label}]")
}

/// Output tokens a judge answer may use: the verdict is one short JSON object.
pub const MAX_VERDICT_TOKENS: u64 = 300;

/// Output tokens a reasoning judge may use: its hidden reasoning counts against the limit, so
/// the verdict needs room after it.
pub const MAX_REASONING_JUDGE_TOKENS: u64 = 4000;

/// The chat completions request body asking `model` to compare the two answers of `sample`,
/// with the routed answer second when `swap`. `reasoning`: the model is a reasoning model
/// (OpenAI's o-series, gpt-5), which refuses `temperature` and `max_tokens`; the body then
/// carries `max_completion_tokens` with room for the reasoning instead.
pub fn request_body(model: &str, sample: &Sample, swap: bool, reasoning: bool) -> Value {
    let routed = (&sample.routed.text, sample.routed.finish, sample.routed.text_truncated);
    let reference = (&sample.reference.text, sample.reference.finish, sample.reference.text_truncated);
    let (a, b) = if swap { (reference, routed) } else { (routed, reference) };
    let mut request = String::from("[User request]");
    if sample.prompt_truncated {
        request.push_str(" (the router capped this conversation for storage)");
    }
    if sample.json_requested {
        request.push_str(" (the request asked for JSON output)");
    }
    let user = format!(
        "{request}\n{}\n[End of user request]\n\n{}\n\n{}",
        sample.prompt,
        answer_block("A", a.0, a.1, a.2),
        answer_block("B", b.0, b.1, b.2)
    );
    let messages = json!([{"role": "system", "content": RUBRIC}, {"role": "user", "content": user}]);
    if reasoning {
        json!({"model": model, "max_completion_tokens": MAX_REASONING_JUDGE_TOKENS, "messages": messages})
    } else {
        json!({"model": model, "temperature": 0, "max_tokens": MAX_VERDICT_TOKENS, "messages": messages})
    }
}

/// Why a judge's reply gave no verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JudgeError {
    /// The HTTP body is not a chat completion with a text message.
    #[error("judge reply is not a chat completion: {0}")]
    NotCompletion(String),
    /// The message holds no JSON object.
    #[error("judge message holds no JSON object: {0:?}")]
    NoJson(String),
    /// The object's verdict is not `A`, `B` or `tie`.
    #[error("judge verdict {0:?} is not \"A\", \"B\" or \"tie\"")]
    BadVerdict(String),
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The assistant message text of a chat completion body.
///
/// # Errors
///
/// [`JudgeError::NotCompletion`].
pub fn completion_text(body: &str) -> Result<String, JudgeError> {
    let v: Value = serde_json::from_str(body).map_err(|e| JudgeError::NotCompletion(e.to_string()))?;
    v.get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .and_then(|c| c.get("message"))
        .and_then(|m| m.get("content"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| JudgeError::NotCompletion(format!("no choices[0].message.content in {}", clip(body, 200))))
}

/// The verdict in a judge's message, from the routed answer's point of view, and the reason.
/// The object may be wrapped in a code fence or text; the first `{` to the last `}` is read.
/// Anything else is an error, never a guess.
///
/// # Errors
///
/// [`JudgeError::NoJson`] or [`JudgeError::BadVerdict`].
pub fn parse_verdict(message: &str, swap: bool) -> Result<(Verdict, String), JudgeError> {
    let no_json = || JudgeError::NoJson(clip(message, 200));
    let start = message.find('{').ok_or_else(no_json)?;
    let end = message.rfind('}').filter(|e| *e > start).ok_or_else(no_json)?;
    let object: Value = message.get(start..=end).and_then(|s| serde_json::from_str(s).ok()).ok_or_else(no_json)?;
    let said = object.get("verdict").and_then(Value::as_str).ok_or_else(|| {
        JudgeError::BadVerdict(object.get("verdict").map_or_else(|| "(missing)".into(), Value::to_string))
    })?;
    let routed_is_a = !swap;
    let verdict = match said.trim().to_ascii_lowercase().as_str() {
        "tie" => Verdict::Tie,
        "a" if routed_is_a => Verdict::Win,
        "a" => Verdict::Loss,
        "b" if routed_is_a => Verdict::Loss,
        "b" => Verdict::Win,
        _ => return Err(JudgeError::BadVerdict(said.to_string())),
    };
    let reason = object.get("reason").and_then(Value::as_str).unwrap_or("");
    Ok((verdict, clip(reason.trim(), MAX_REASON_CHARS)))
}

/// Case-insensitive phrases that mark an answer as a refusal in `--heuristic` mode.
pub const REFUSAL_PHRASES: [&str; 12] = [
    "i can't help",
    "i cannot help",
    "i can't assist",
    "i cannot assist",
    "i can't provide",
    "i cannot provide",
    "i'm unable to",
    "i am unable to",
    "i'm not able to",
    "i won't be able to",
    "i must decline",
    "as an ai language model",
];

/// A routed answer shorter than this share of the reference (in characters) is a loss in
/// `--heuristic` mode...
pub const MIN_LENGTH_RATIO: f64 = 0.2;
/// ...when the reference has at least this many characters (short answers vary too much).
pub const MIN_REFERENCE_CHARS: usize = 200;

fn refuses(text: &str) -> bool {
    let lower = text.to_lowercase();
    REFUSAL_PHRASES.iter().any(|p| lower.contains(p))
}

fn is_json(text: &str) -> bool {
    serde_json::from_str::<Value>(text.trim()).is_ok()
}

/// The `--heuristic` verdict: a loss when the routed answer shows a defect the reference does
/// not have, else a tie; never a win. A weak signal: it sees defects, not wrong answers.
/// The rules, in order (the first that applies):
/// 1. the routed answer failed (error or non-2xx status);
/// 2. the routed answer is empty (no text, no tool call);
/// 3. the routed answer was cut by the token limit (finish `length`) and the reference was not;
/// 4. the routed answer was withheld by a content filter and the reference was not;
/// 5. the routed answer refuses (a [`REFUSAL_PHRASES`] phrase) and the reference does not;
/// 6. JSON was requested, the routed text is not JSON and the reference's is (texts capped by
///    the router are not checked: the cap cuts JSON);
/// 7. the routed text is shorter than [`MIN_LENGTH_RATIO`] of a reference of at least
///    [`MIN_REFERENCE_CHARS`] characters.
pub fn heuristic(sample: &Sample) -> (Verdict, String) {
    let r = &sample.routed;
    let f = &sample.reference;
    let routed_chars = r.text.trim().chars().count();
    let reference_chars = f.text.trim().chars().count();
    let loss = |why: String| (Verdict::Loss, why);
    if let Some(why) = r.failure() {
        return loss(format!("routed answer failed: {why}"));
    }
    if routed_chars == 0 {
        return loss("routed answer is empty".into());
    }
    if r.finish == Some(Finish::Length) && f.finish != Some(Finish::Length) {
        return loss("routed answer was cut by the token limit".into());
    }
    if r.finish == Some(Finish::ContentFilter) && f.finish != Some(Finish::ContentFilter) {
        return loss("routed answer was withheld by a content filter".into());
    }
    if refuses(&r.text) && !refuses(&f.text) {
        return loss("routed answer refuses".into());
    }
    let json_checkable = sample.json_requested && !r.text_truncated && !f.text_truncated;
    if json_checkable && !is_json(&r.text) && is_json(&f.text) {
        return loss("JSON was requested and the routed answer is not valid JSON".into());
    }
    if reference_chars >= MIN_REFERENCE_CHARS && (routed_chars as f64) < MIN_LENGTH_RATIO * reference_chars as f64 {
        return loss(format!("routed answer is {routed_chars} characters against the reference's {reference_chars}"));
    }
    (Verdict::Tie, "no defect the heuristic detects".into())
}

/// The judgement of `--heuristic` mode.
pub fn heuristic_judgement(sample: &Sample) -> Judgement {
    let (verdict, reason) = heuristic(sample);
    Judgement { verdict: Some(verdict), judge: "heuristic".into(), reason, swapped: false, attempts: 0, error: None }
}

#[cfg(test)]
#[path = "judge_tests.rs"]
mod tests;

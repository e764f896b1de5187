//! A fast OpenAI-compatible stand-in for the benchmarks (scripts/bench.sh): std only, one
//! thread per connection, HTTP/1.1 keep-alive. Every variant (plain Envoy, Envoy + filter,
//! LiteLLM) forwards to this same server, so the upstream costs the same for all of them.
//!
//!     rustc -O -o target/bench/fast_upstream scripts/bench/fast_upstream.rs
//!     target/bench/fast_upstream 127.0.0.1:18001
//!
//! POST (any path)   a small chat.completion JSON (the request's "model" echoed, usage with
//!                   prompt_tokens = ceil(body bytes / 4), completion_tokens = 20), or an SSE
//!                   stream of three chunks plus a usage chunk when the body has "stream":true
//! GET /v1/models    a model list;  GET anything else: {"ok":true}
//! Counts requests; GET /_stats answers {"requests":N}.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The value of the first top-level-looking `"model":"..."` (a cheap scan, no JSON parser).
fn model_of(body: &[u8]) -> String {
    let Some(i) = find(body, b"\"model\"") else { return "unknown".into() };
    let rest = &body[i + 7..];
    let Some(q1) = rest.iter().position(|&b| b == b'"') else { return "unknown".into() };
    let rest = &rest[q1 + 1..];
    let Some(q2) = rest.iter().position(|&b| b == b'"') else { return "unknown".into() };
    String::from_utf8_lossy(&rest[..q2]).into_owned()
}

fn is_stream(body: &[u8]) -> bool {
    find(body, b"\"stream\":true").is_some() || find(body, b"\"stream\": true").is_some()
}

fn respond(out: &mut TcpStream, status: &str, ctype: &str, body: &[u8], close: bool) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nx-upstream-name: fast\r\n{}\r\n",
        body.len(),
        if close { "connection: close\r\n" } else { "" }
    );
    let mut buf = Vec::with_capacity(head.len() + body.len());
    buf.extend_from_slice(head.as_bytes());
    buf.extend_from_slice(body);
    out.write_all(&buf)
}

fn completion(model: &str, prompt_tokens: usize) -> String {
    format!(
        "{{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"{model}\",\
\"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":\"This is a short benchmark answer from the fast stand-in upstream.\"}},\"finish_reason\":\"stop\"}}],\
\"usage\":{{\"prompt_tokens\":{prompt_tokens},\"completion_tokens\":20,\"total_tokens\":{}}}}}",
        prompt_tokens + 20
    )
}

fn sse(model: &str, prompt_tokens: usize) -> String {
    let mut s = String::new();
    for word in ["This ", "is ", "streamed."] {
        s.push_str(&format!(
            "data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"{model}\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{word}\"}},\"finish_reason\":null}}]}}\n\n"
        ));
    }
    s.push_str(&format!(
        "data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"{model}\",\"choices\":[],\"usage\":{{\"prompt_tokens\":{prompt_tokens},\"completion_tokens\":3,\"total_tokens\":{}}}}}\n\ndata: [DONE]\n\n",
        prompt_tokens + 3
    ));
    s
}

fn read_chunked(r: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
        if size == 0 {
            // trailers until the empty line
            loop {
                let mut t = String::new();
                if r.read_line(&mut t)? == 0 || t == "\r\n" || t == "\n" {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        r.read_exact(&mut crlf)?;
    }
}

fn serve(stream: TcpStream, count: Arc<AtomicU64>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut out = stream.try_clone()?;
    let mut r = BufReader::with_capacity(64 * 1024, stream);
    loop {
        let mut request_line = String::new();
        if r.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let http10 = parts.next().unwrap_or("") == "HTTP/1.0";
        let (mut length, mut chunked, mut close) = (0usize, false, http10);
        loop {
            let mut line = String::new();
            if r.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
                match k.as_str() {
                    "content-length" => length = v.parse().unwrap_or(0),
                    "transfer-encoding" => chunked = v.to_ascii_lowercase().contains("chunked"),
                    "connection" => close = v.eq_ignore_ascii_case("close"),
                    _ => {}
                }
            }
        }
        let body = if chunked {
            read_chunked(&mut r)?
        } else {
            let mut b = vec![0u8; length];
            r.read_exact(&mut b)?;
            b
        };
        if method == "POST" {
            count.fetch_add(1, Ordering::Relaxed);
            let model = model_of(&body);
            let prompt_tokens = body.len().div_ceil(4);
            if is_stream(&body) {
                respond(&mut out, "200 OK", "text/event-stream", sse(&model, prompt_tokens).as_bytes(), close)?;
            } else {
                respond(&mut out, "200 OK", "application/json", completion(&model, prompt_tokens).as_bytes(), close)?;
            }
        } else if path.starts_with("/v1/models") {
            let body = b"{\"object\":\"list\",\"data\":[{\"id\":\"gpt-5-nano\",\"object\":\"model\",\"owned_by\":\"bench\"}]}";
            respond(&mut out, "200 OK", "application/json", body, close)?;
        } else if path.starts_with("/_stats") {
            let body = format!("{{\"requests\":{}}}", count.load(Ordering::Relaxed));
            respond(&mut out, "200 OK", "application/json", body.as_bytes(), close)?;
        } else {
            respond(&mut out, "200 OK", "application/json", b"{\"ok\":true}", close)?;
        }
        if close {
            return Ok(());
        }
    }
}

fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18001".into());
    let listener = TcpListener::bind(&addr).unwrap_or_else(|e| {
        eprintln!("fast_upstream: cannot bind {addr}: {e}");
        std::process::exit(1)
    });
    eprintln!("fast_upstream: listening on {}", listener.local_addr().map(|a| a.to_string()).unwrap_or(addr));
    let count = Arc::new(AtomicU64::new(0));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let count = Arc::clone(&count);
        std::thread::spawn(move || {
            let _ = serve(stream, count);
        });
    }
}

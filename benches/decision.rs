//! Native benchmarks of the request path: parsing, features, inference, the whole decision,
//! and SSE usage scanning. Prompt sizes 100, 1K, 8K, 32K and 128K estimated tokens
//! (4 characters per token); features read at most `max_inspect_chars` of the text, so their
//! cost is flat beyond the cap while parsing stays linear in the body size.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use llm_router::classifier::{Classifier, TractClassifier};
use llm_router::config::DEFAULT_CONFIG_JSON;
use llm_router::features::{extract, extract_with};
use llm_router::inspect::inspect;
use llm_router::request::parse;
use llm_router::router::Router;
use llm_router::sse::SseScanner;
use std::hint::black_box;

const PARAGRAPH: &str =
    "The quarterly report shows revenue grew 12% while costs fell. Explain why the margin changed, \
and list three risks for next quarter. Use the table below: | region | revenue | cost |. ";

fn body_with_tokens(tokens: usize) -> Vec<u8> {
    let chars = tokens * 4;
    let mut text = String::with_capacity(chars + PARAGRAPH.len());
    while text.len() < chars {
        text.push_str(PARAGRAPH);
    }
    text.truncate(chars);
    serde_json::to_vec(&serde_json::json!({
        "model": "auto",
        "messages": [
            {"role": "system", "content": "You are a helpful analyst."},
            {"role": "user", "content": text}
        ]
    }))
    .unwrap()
}

const SIZES: [usize; 5] = [100, 1_000, 8_000, 32_000, 128_000];

fn benches(c: &mut Criterion) {
    let router = Router::from_json(DEFAULT_CONFIG_JSON.as_bytes()).unwrap();
    let cap = router.config.max_inspect_chars;
    let model = TractClassifier::embedded().unwrap();

    // The inspect step (one pass, no tree) ...
    let mut g = c.benchmark_group("parse");
    for n in SIZES {
        let body = body_with_tokens(n);
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &body, |b, body| {
            b.iter(|| black_box(inspect(black_box(body)).unwrap().spans.model.len()))
        });
    }
    g.finish();

    // ... against building a serde_json tree of the same body (what the filter did before).
    let mut g = c.benchmark_group("parse_dom");
    for n in SIZES {
        let body = body_with_tokens(n);
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &body, |b, body| {
            b.iter(|| black_box(serde_json::from_slice::<serde_json::Value>(black_box(body)).unwrap().is_object()))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("features");
    for n in SIZES {
        let body = body_with_tokens(n);
        let req = parse(&body).unwrap();
        g.bench_with_input(BenchmarkId::from_parameter(n), &req, |b, req| {
            b.iter(|| black_box(extract(black_box(req), cap)))
        });
    }
    g.finish();

    // What the filter runs when the model reads no hashed bucket (the shipped model).
    let mut g = c.benchmark_group("features_lean");
    for n in SIZES {
        let body = body_with_tokens(n);
        let req = parse(&body).unwrap();
        g.bench_with_input(BenchmarkId::from_parameter(n), &req, |b, req| {
            b.iter(|| black_box(extract_with(black_box(req), cap, false)))
        });
    }
    g.finish();

    let body = body_with_tokens(1_000);
    let feats = extract(&parse(&body).unwrap(), cap);
    c.bench_function("inference/tract_core", |b| {
        b.iter(|| black_box(model.score(black_box(feats.as_slice())).unwrap()))
    });

    let mut g = c.benchmark_group("features_plus_inference");
    for n in SIZES {
        let body = body_with_tokens(n);
        let req = parse(&body).unwrap();
        g.bench_with_input(BenchmarkId::from_parameter(n), &req, |b, req| {
            b.iter(|| black_box(model.score(extract(black_box(req), cap).as_slice()).unwrap()))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("decision");
    for n in SIZES {
        let body = body_with_tokens(n);
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &body, |b, body| {
            b.iter(|| black_box(router.decide_body(black_box(body)).unwrap()))
        });
    }
    g.finish();

    let mut stream = String::new();
    for i in 0..1000 {
        stream.push_str(&format!(
            "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-5-nano\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"token {i} of the answer\"}},\"finish_reason\":null}}]}}\n\n"
        ));
    }
    stream.push_str("data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":1000}}\n\ndata: [DONE]\n\n");
    let bytes = stream.into_bytes();
    let mut g = c.benchmark_group("sse");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("scan_1000_events_in_512b_chunks", |b| {
        b.iter(|| {
            let mut s = SseScanner::new(1 << 20);
            for chunk in bytes.chunks(512) {
                s.push(black_box(chunk));
            }
            s.finish();
            black_box(s.usage().unwrap())
        })
    });
    g.finish();
}

criterion_group! {
    name = all;
    config = Criterion::default().sample_size(30).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = benches
}
criterion_main!(all);

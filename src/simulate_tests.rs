//! Unit tests of [`crate::simulate`].

use super::*;
use crate::classifier::HeuristicClassifier;
use crate::config::{Config, DEFAULT_CONFIG_JSON};
use serde_json::json;

fn table() -> PriceTable {
    PriceTable::default_table().unwrap()
}

fn synthetic(requests: u64, input: u64, output: u64) -> Traffic {
    Traffic::Synthetic {
        requests,
        usage: Usage { prompt_tokens: input, completion_tokens: output, cached_tokens: 0, ..Usage::ZERO },
        api: Api::ChatCompletions,
    }
}

fn cost(p: &[Projection], label: &str) -> u64 {
    p.iter().find(|p| p.strategy.label() == label).unwrap().monthly_cost_micro_usd
}

/// Per-request cost from the price table's integer rates, independently of `pricing`.
fn per_request(model: &str, input: u64, output: u64) -> u64 {
    let m = table().lookup(model).unwrap().clone();
    let exact = u128::from(input) * u128::from(m.base.input) + u128::from(output) * u128::from(m.base.output);
    u64::try_from((exact + 500_000) / 1_000_000).unwrap()
}

#[test]
fn worked_example_from_the_issue() {
    let t = table();
    let haiku = Strategy::Split(Split::parse("claude-haiku-4.5=0.7,claude-sonnet-4.6=0.3", &t).unwrap());
    let deepseek = Strategy::Split(Split::parse("deepseek-v3.2=0.7,claude-sonnet-4.6=0.3", &t).unwrap());
    let p =
        project(&synthetic(1_000_000, 500, 200), &t, &Baselines::one("claude-sonnet-4.6"), &[haiku, deepseek]).unwrap();
    assert_eq!(p[0].strategy, Strategy::AllOn("claude-sonnet-4.6".into()));
    assert!(p[0].baseline);
    assert_eq!(p[0].monthly_cost_micro_usd, 4_500_000_000);
    assert_eq!(cost(&p, "split claude-haiku-4.5=0.7,claude-sonnet-4.6=0.3"), 2_400_000_000);
    assert_eq!(p[1].savings_tenths, Some(467)); // 46.7%, i.e. 47% saved
    let expected =
        (700_000 * per_request("deepseek-v3.2", 500, 200)) + (300_000 * per_request("claude-sonnet-4.6", 500, 200));
    assert_eq!(cost(&p, "split deepseek-v3.2=0.7,claude-sonnet-4.6=0.3"), expected);
    assert_eq!(expected, 1_506_800_000);
}

#[test]
fn per_request_rounding_happens_once_before_multiplying() {
    // gpt-5-nano: 3 input tokens at $0.05/Mtok = 0.15 micro-USD -> 0 per request; 7 -> 0.35 -> 0;
    // 10 -> 0.5 -> 1 (half up). Per-request rounding makes 1M such requests cost 0 or 1M.
    let t = table();
    let nano = [Strategy::AllOn("gpt-5-nano".into())];
    assert_eq!(
        cost(
            &project(&synthetic(1_000_000, 3, 0), &t, &Baselines::one("gpt-5-nano"), &nano).unwrap(),
            "all on gpt-5-nano"
        ),
        0
    );
    assert_eq!(
        cost(
            &project(&synthetic(1_000_000, 10, 0), &t, &Baselines::one("gpt-5-nano"), &nano).unwrap(),
            "all on gpt-5-nano"
        ),
        1_000_000
    );
    // A split is exact on top: 1 request 0.5/0.5 between costs 1 and 0 -> 0.5 -> rounds up to 1.
    let split = Strategy::Split(Split::parse("gpt-5-nano=0.5,deepseek-v3.2=0.5", &t).unwrap());
    let p = project(&synthetic(1, 10, 0), &t, &Baselines::one("gpt-5-nano"), std::slice::from_ref(&split)).unwrap();
    assert_eq!(p[1].monthly_cost_micro_usd, 2); // (1 + 3 (10 * 0.28 = 2.8 -> 3)) / 2 = 2
    let p = project(&synthetic(3, 10, 0), &t, &Baselines::one("gpt-5-nano"), &[split]).unwrap();
    assert_eq!(p[1].monthly_cost_micro_usd, 6);
}

#[test]
fn split_validation() {
    let t = table();
    assert!(matches!(Split::parse("gpt-5-nano=0.7,claude-sonnet-4.6=0.2", &t), Err(SimulateError::Split { .. })));
    assert!(matches!(Split::parse("gpt-5-nano=0.7,nope=0.3", &t), Err(SimulateError::UnknownModel(_))));
    assert!(matches!(Split::parse("gpt-5-nano", &t), Err(SimulateError::Split { .. })));
    assert!(matches!(Split::parse("gpt-5-nano=0.5,gpt-5-nano=0.5", &t), Err(SimulateError::Split { .. })));
    assert!(matches!(Split::parse("gpt-5-nano=-0.5,gpt-4o=1.5", &t), Err(SimulateError::Split { .. })));
    assert!(matches!(Split::parse("gpt-5-nano=0.3333333,gpt-4o=0.6666667", &t), Err(SimulateError::Split { .. })));
    let s = Split::parse("claude-haiku-4-5=0.70, claude-sonnet-4.6=.3", &t).unwrap();
    assert_eq!(s.parts, vec![("claude-haiku-4.5".to_string(), 700_000), ("claude-sonnet-4.6".to_string(), 300_000)]);
    assert_eq!(s.label(), "claude-haiku-4.5=0.7,claude-sonnet-4.6=0.3");
    assert_eq!(Split::parse("gpt-4o=1", &t).unwrap().label(), "gpt-4o=1");
}

fn router() -> Router {
    Router::new(Config::from_json(DEFAULT_CONFIG_JSON.as_bytes()).unwrap(), Box::new(HeuristicClassifier::default()))
}

#[test]
fn sample_lines_are_routed_and_estimated() {
    let r = router();
    let text = "x".repeat(40); // 10 tokens + 4 per message
    let line = json!({"model": "auto", "messages": [{"role": "user", "content": text}], "expected_output_tokens": 7})
        .to_string();
    let s = SampleRequest::from_line(&line, &r, None, Api::ChatCompletions).unwrap();
    assert_eq!(s.usage, Usage { prompt_tokens: 14, completion_tokens: 7, cached_tokens: 0, ..Usage::ZERO });
    let decided = r.decide_body(line.as_bytes()).unwrap();
    assert_eq!(s.routed_model, r.config.tiers[decided.tier].model);
    let explicit = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).to_string();
    let s = SampleRequest::from_line(&explicit, &r, Some(100), Api::ChatCompletions).unwrap();
    assert_eq!((s.routed_model.as_str(), s.usage.completion_tokens), ("gpt-4o", 100));
    assert!(matches!(SampleRequest::from_line(&explicit, &r, None, Api::ChatCompletions), Err(SimulateError::Line(_))));
    assert!(matches!(SampleRequest::from_line("nope", &r, Some(1), Api::ChatCompletions), Err(SimulateError::Line(_))));
    let bad = json!({"model": "auto", "messages": [], "expected_output_tokens": -1}).to_string();
    assert!(matches!(SampleRequest::from_line(&bad, &r, Some(1), Api::ChatCompletions), Err(SimulateError::Line(_))));
}

#[test]
fn router_strategy_prices_each_request_on_its_routed_model_and_scales() {
    let t = table();
    let u = |i, o| Usage { prompt_tokens: i, completion_tokens: o, cached_tokens: 0, ..Usage::ZERO };
    let requests = vec![
        SampleRequest { api: Api::ChatCompletions, usage: u(1000, 500), routed_model: "gpt-5-nano".into() }, // 250
        SampleRequest { api: Api::ChatCompletions, usage: u(2000, 300), routed_model: "claude-haiku-4.5".into() }, // 3500
        SampleRequest { api: Api::ChatCompletions, usage: u(10, 10), routed_model: "in-house".into() }, // unpriced
    ];
    let traffic = Traffic::Sample { requests, monthly_requests: 7 };
    let p = project(&traffic, &t, &Baselines::one("claude-sonnet-4.6"), &[Strategy::Router]).unwrap();
    // baseline: (10500 + 10500 + 180) * 7 / 3 = 49420
    assert_eq!(p[0].monthly_cost_micro_usd, 49_420);
    // router: 3750 * 7 / 3 = 8750
    assert_eq!((p[1].monthly_cost_micro_usd, p[1].unpriced_requests), (8_750, 1));
    assert_eq!(
        p[1].routed_models,
        BTreeMap::from([("gpt-5-nano".into(), 1), ("claude-haiku-4.5".into(), 1), ("in-house".into(), 1)])
    );
    assert!(p[0].routed_models.is_empty());
    let text = render_table(&traffic, &t, &p);
    assert!(text.contains("router (configured policy) sends the sample to: claude-haiku-4.5 1 (33.3%), gpt-5-nano 1 (33.3%), in-house 1 (33.3%)"), "{text}");
    assert_eq!(p[1].savings_tenths, savings_tenths(8_750, 49_420));
    assert_eq!(
        project(&synthetic(1, 1, 1), &t, &Baselines::one("claude-sonnet-4.6"), &[Strategy::Router]),
        Err(SimulateError::RouterNeedsSample)
    );
    let empty = Traffic::Sample { requests: vec![], monthly_requests: 1 };
    assert_eq!(project(&empty, &t, &Baselines::one("claude-sonnet-4.6"), &[]), Err(SimulateError::EmptySample));
}

#[test]
fn baseline_is_first_and_not_repeated() {
    let t = table();
    let all: Vec<Strategy> = t.models().map(|m| Strategy::AllOn(m.id.clone())).collect();
    let p = project(&synthetic(10, 1, 1), &t, &Baselines::one("claude-sonnet-4-6"), &all).unwrap();
    assert_eq!(p.len(), all.len());
    assert!(p[0].baseline && p.iter().skip(1).all(|p| !p.baseline));
    assert_eq!(p[0].savings_tenths, Some(0));
}

#[test]
fn overflow_is_an_error() {
    let t = table();
    let huge = Traffic::Synthetic {
        requests: u64::MAX,
        usage: Usage { prompt_tokens: 100_000_000, completion_tokens: 0, cached_tokens: 0, ..Usage::ZERO },
        api: Api::Messages,
    };
    assert_eq!(project(&huge, &t, &Baselines::one("claude-opus-4.6"), &[]), Err(SimulateError::Overflow));
}

#[test]
fn renders() {
    let t = table();
    let split = Strategy::Split(Split::parse("claude-haiku-4.5=0.7,claude-sonnet-4.6=0.3", &t).unwrap());
    let traffic = synthetic(1_000_000, 500, 200);
    let p = project(&traffic, &t, &Baselines::one("claude-sonnet-4.6"), &[split]).unwrap();
    let table_text = render_table(&traffic, &t, &p);
    assert!(
        table_text.contains("$4,500.00") && table_text.contains("$2,400.00") && table_text.contains("46.7%"),
        "{table_text}"
    );
    let csv = render_csv(&p);
    assert!(
        csv.contains("\"split claude-haiku-4.5=0.7,claude-sonnet-4.6=0.3\",false,1000000,2400000000,46.7,0"),
        "{csv}"
    );
    let j = render_json(&traffic, &t, &p);
    assert_eq!(j["strategies"][1]["monthly_cost_micro_usd"], 2_400_000_000u64);
    assert_eq!(j["strategies"][1]["monthly_cost_usd"], "$2,400.00");
}

#[test]
fn sample_lines_name_their_api_and_are_routed_by_its_section() {
    let r = Router::from_json(DEFAULT_CONFIG_JSON.as_bytes()).unwrap();
    let messages = r.section(Api::Messages).unwrap();
    let text = "x".repeat(40);
    let line = json!({"api": "messages", "model": "auto", "max_tokens": 50, "system": "be brief",
                      "messages": [{"role": "user", "content": text}], "expected_output_tokens": 9})
    .to_string();
    let s = SampleRequest::from_line(&line, &r, None, Api::ChatCompletions).unwrap();
    assert_eq!(s.api, Api::Messages);
    assert!(messages.config.tiers.iter().any(|t| t.model == s.routed_model), "{}", s.routed_model);
    assert!(r.config.tiers.iter().all(|t| t.model != s.routed_model), "not a chat tier");
    // The system prompt is a message too: (ceil(8/4) + 4) + (10 + 4).
    assert_eq!(s.usage.prompt_tokens, 20);
    // Without the member, the default API decides how the body is read.
    let bare = json!({"model": "auto", "max_tokens": 5, "system": 7, "messages": [], "expected_output_tokens": 1});
    assert!(SampleRequest::from_line(&bare.to_string(), &r, None, Api::ChatCompletions).is_ok());
    let e = SampleRequest::from_line(&bare.to_string(), &r, None, Api::Messages).unwrap_err();
    assert!(e.to_string().contains("system"), "{e}");
    for (api, needle) in [(json!("completions"), "unknown `api`"), (json!(3), "must be a string")] {
        let mut v = bare.clone();
        v["api"] = api;
        let e = SampleRequest::from_line(&v.to_string(), &r, None, Api::ChatCompletions).unwrap_err();
        assert!(e.to_string().contains(needle), "{e}");
    }
    // A configuration without a Messages section cannot route a Messages line.
    let e = SampleRequest::from_line(&line, &router(), None, Api::ChatCompletions).unwrap_err();
    assert!(e.to_string().contains("no section"), "{e}");
}

#[test]
fn projections_are_split_by_api_with_exact_parts() {
    let t = table();
    let u = |i, o| Usage { prompt_tokens: i, completion_tokens: o, cached_tokens: 0, ..Usage::ZERO };
    let chat = |usage, model: &str| SampleRequest { api: Api::ChatCompletions, usage, routed_model: model.into() };
    let msg = |usage, model: &str| SampleRequest { api: Api::Messages, usage, routed_model: model.into() };
    let requests = vec![
        chat(u(1000, 500), "gpt-5-nano"),      // 250; sonnet 10500
        msg(u(2000, 300), "claude-haiku-4.5"), // 3500; sonnet 10500
        msg(u(10, 10), "in-house"),            // unpriced; sonnet 180
    ];
    let traffic = Traffic::Sample { requests, monthly_requests: 7 };
    assert_eq!(traffic.apis(), [Api::ChatCompletions, Api::Messages]);
    let p = project(&traffic, &t, &Baselines::one("claude-sonnet-4.6"), &[Strategy::Router]).unwrap();
    let parts = |i: usize| -> Vec<(Api, u64, u64, u64)> {
        p[i].by_api.iter().map(|a| (a.api, a.monthly_requests, a.monthly_cost_micro_usd, a.unpriced_requests)).collect()
    };
    // baseline: chat 10500 * 7 / 3 = 24500; messages (10500 + 180) * 7 / 3 = 24920.
    assert_eq!(parts(0), [(Api::ChatCompletions, 2, 24_500, 0), (Api::Messages, 5, 24_920, 0)]);
    assert_eq!(p[0].monthly_cost_micro_usd, 24_500 + 24_920);
    // router: chat 250 * 7 / 3 = 583.33 -> 583; messages 3500 * 7 / 3 = 8166.67 -> 8167.
    assert_eq!(parts(1), [(Api::ChatCompletions, 2, 583, 0), (Api::Messages, 5, 8_167, 1)]);
    assert_eq!(p[1].monthly_cost_micro_usd, 8_750, "the total is rounded once on its own");
    assert_eq!(p[1].by_api[1].savings_tenths, savings_tenths(8_167, 24_920));
    let csv = render_csv(&p);
    assert!(csv.contains("router (configured policy),false,7,8750,82.3,1,all\n"), "{csv}");
    assert!(csv.contains("router (configured policy),false,5,8167,67.2,1,messages\n"), "{csv}");
    let j = render_json(&traffic, &t, &p);
    assert_eq!(j["strategies"][1]["api"], "all");
    assert_eq!(j["strategies"][1]["by_api"][1]["api"], "messages");
    assert_eq!(j["strategies"][1]["by_api"][1]["monthly_cost_micro_usd"], 8_167);
    let text = render_table(&traffic, &t, &p);
    assert!(text.contains("api chat_completions 1, messages 2") && text.contains("\nby api ("), "{text}");
    // A traffic of one API: labelled with it, no per-API rows.
    let one = project(&synthetic(10, 100, 10), &t, &Baselines::one("gpt-5-nano"), &[]).unwrap();
    assert_eq!(render_csv(&one).lines().nth(1).unwrap(), "all on gpt-5-nano,true,10,90,0.0,0,chat_completions");
}

#[test]
fn the_baseline_of_each_api_is_its_sections_baseline_model() {
    let r = Router::from_json(DEFAULT_CONFIG_JSON.as_bytes()).unwrap();
    let t = &r.config.prices;
    let baselines = Baselines::of(&r);
    let u = Usage { prompt_tokens: 1000, completion_tokens: 100, cached_tokens: 0, ..Usage::ZERO };
    let req = |api| SampleRequest { api, usage: u, routed_model: "gpt-5-nano".into() };
    let each = |m: &str| t.cost_micro_usd(m, &u).unwrap();
    let mixed = Traffic::Sample { requests: vec![req(Api::ChatCompletions), req(Api::Responses)], monthly_requests: 2 };
    let p = project(&mixed, t, &baselines, &[]).unwrap();
    let expected = vec![
        (Api::ChatCompletions, r.config.baseline_model.clone()),
        (Api::Responses, r.section(Api::Responses).unwrap().config.baseline_model.clone()),
    ];
    assert_ne!(expected[0].1, expected[1].1, "the shipped sections have different baselines");
    assert_eq!(p[0].strategy, Strategy::Baselines(expected.clone()));
    assert!(p[0].baseline);
    assert_eq!(p[0].monthly_cost_micro_usd, each(&expected[0].1) + each(&expected[1].1));
    let parts: Vec<u64> = p[0].by_api.iter().map(|a| a.monthly_cost_micro_usd).collect();
    assert_eq!(parts, [each(&expected[0].1), each(&expected[1].1)]);
    assert_eq!(
        p[0].strategy.label(),
        format!("each api on its baseline (chat_completions on {}, responses on {})", expected[0].1, expected[1].1)
    );
    // Traffic of one API: everything on that API's baseline.
    let responses = Traffic::Sample { requests: vec![req(Api::Responses)], monthly_requests: 1 };
    let p = project(&responses, t, &baselines, &[]).unwrap();
    assert_eq!(p[0].strategy, Strategy::AllOn(expected[1].1.clone()));
    // One model given: every API on it.
    let p = project(&mixed, t, &Baselines::one("gpt-5-nano"), &[]).unwrap();
    assert_eq!(
        (p[0].strategy.label(), p[0].monthly_cost_micro_usd),
        ("all on gpt-5-nano".to_string(), 2 * each("gpt-5-nano"))
    );
    // A baseline missing from the price table is an error, as before.
    assert_eq!(project(&mixed, t, &Baselines::one("mystery"), &[]), Err(SimulateError::UnknownModel("mystery".into())));
}

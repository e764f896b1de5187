//! Unit tests of [`crate::report`].

use super::render::csv_escape;
use super::*;
use crate::accesslog::parse_rfc3339;
use serde_json::json;

#[allow(clippy::too_many_arguments)]
fn line(
    customer: &str,
    model: &str,
    tier: &str,
    status: &str,
    tokens: (u64, u64, u64),
    cost: Option<u64>,
    baseline: Option<u64>,
    time: &str,
) -> String {
    json!({
        "start_time": time, "route_name": "chat", "requested_model": "auto", "model": model, "tier": tier,
        "mode": "route", "customer": customer,
        "input_tokens": tokens.0.to_string(), "output_tokens": tokens.1.to_string(), "cached_tokens": tokens.2.to_string(),
        "cost_micro_usd": cost.map(|c| c.to_string()), "baseline_cost_micro_usd": baseline.map(|c| c.to_string()),
        "price_version": "2026-04", "router_status": status,
    })
    .to_string()
}

fn sample() -> Vec<String> {
    vec![
        // gpt-5-nano 1000/500: 250, baseline sonnet 10500
        line("alpha", "gpt-5-nano", "cheap", "priced", (1000, 500, 0), Some(250), Some(10500), "2026-04-01T10:00:00Z"),
        // claude-haiku-4.5 2000/300: 3500, baseline 10500
        line(
            "beta",
            "claude-haiku-4.5",
            "mid",
            "priced",
            (2000, 300, 0),
            Some(3500),
            Some(10500),
            "2026-04-01T11:00:00Z",
        ),
        // unpriced: tokens counted, baseline logged but not counted, no cost
        line("beta", "acme-llm", "none", "unpriced", (100, 20, 0), None, Some(600), "2026-04-01T12:00:00Z"),
        line("alpha", "gpt-5-nano", "cheap", "usage_missing", (0, 0, 0), None, None, "2026-04-02T00:00:00Z"),
        r#"{"method":"GET","path":"/v1/models","router_status":null}"#.to_string(),
        "not json at all".to_string(),
        r#"{"router_status":"error","path":"/v1/chat/completions"}"#.to_string(),
        r#"{"router_status":"priced","input_tokens":"5"}"#.to_string(),
        String::new(),
    ]
}

fn report(options: ReportOptions) -> Report {
    let mut r = Report::new(options);
    for l in sample() {
        r.add_line(&l);
    }
    r
}

#[test]
fn totals_and_skips() {
    let r = report(ReportOptions::default());
    assert_eq!(r.lines, 8);
    assert_eq!(
        r.skipped,
        Skipped {
            not_json: 1,
            not_router: 1,
            uninspected: 1,
            invalid: 1,
            outside_window: 0,
            other_mode: 0,
            other_api: 0
        }
    );
    assert_eq!(r.invalid_examples.len(), 1);
    let t = r.total;
    assert_eq!((t.requests, t.priced, t.unpriced, t.usage_missing), (4, 2, 1, 1));
    assert_eq!((t.input_tokens, t.output_tokens), (3100, 820));
    assert_eq!((t.cost_micro_usd, t.baseline_cost_micro_usd), (3750, 21000));
    assert_eq!(t.savings_tenths(), Some(821)); // 1 - 3750/21000 = 82.14%
    let customers = r.rows(Dimension::Customer);
    assert_eq!(customers[0].0, "beta");
    assert_eq!((customers[0].1.cost_micro_usd, customers[0].1.unpriced), (3500, 1));
    assert_eq!((customers[1].0, customers[1].1.requests, customers[1].1.usage_missing), ("alpha", 2, 1));
    let models: Vec<&str> = r.rows(Dimension::Model).iter().map(|(k, _)| *k).collect();
    assert_eq!(models, ["claude-haiku-4.5", "gpt-5-nano", "acme-llm"]);
    assert_eq!(r.rows(Dimension::Route).len(), 1);
}

#[test]
fn time_window_and_mode_filter() {
    let r = report(ReportOptions {
        since: Some(parse_rfc3339("2026-04-01T10:30:00Z").unwrap()),
        until: Some(parse_rfc3339("2026-04-02T00:00:00Z").unwrap()),
        ..ReportOptions::default()
    });
    assert_eq!(r.skipped.outside_window, 2);
    assert_eq!(r.total.requests, 2);
    assert_eq!(r.total.cost_micro_usd, 3500);
    let measured = report(ReportOptions { mode: Some("measure".into()), ..ReportOptions::default() });
    assert_eq!((measured.total.requests, measured.skipped.other_mode), (0, 4));
}

#[test]
fn repricing_uses_the_tokens() {
    let mut table: serde_json::Value = serde_json::from_str(include_str!("default_prices.json")).unwrap();
    table["version"] = json!("2026-07");
    // gpt-5-nano doubles its prices; acme-llm gets a price.
    table["models"][0]["input_per_mtok"] = json!(0.10);
    table["models"][0]["output_per_mtok"] = json!(0.80);
    table["models"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "acme-llm", "input_per_mtok": 1.0, "output_per_mtok": 2.0}));
    let table = PriceTable::from_json(&table.to_string()).unwrap();
    let r = report(ReportOptions {
        reprice: Some(Reprice { table, baseline_model: "claude-sonnet-4.6".into() }),
        ..ReportOptions::default()
    });
    // nano: 1000*0.10 + 500*0.80 = 500; haiku: 3500; acme: 100*1 + 20*2 = 140.
    assert_eq!(r.total.cost_micro_usd, 500 + 3500 + 140);
    // baselines: 10500 + 10500 + (100*3 + 20*15 = 600)
    assert_eq!(r.total.baseline_cost_micro_usd, 21600);
    assert_eq!((r.total.priced, r.total.unpriced, r.total.usage_missing), (3, 0, 1));
    assert!(r.price_versions.contains("2026-07") && !r.price_versions.contains("2026-04"));
}

#[test]
fn revenue_and_margin() {
    let revenue = Revenue::parse("customer,revenue_usd\nalpha,0.0002\nbeta,1\n\"gamma, inc\",5\n").unwrap();
    assert_eq!(revenue.0["alpha"], 200);
    assert_eq!(revenue.0["gamma, inc"], 5_000_000);
    let r = report(ReportOptions { revenue: Some(revenue), ..ReportOptions::default() });
    assert_eq!(r.negative_margin_customers(), ["alpha"]); // 200 < 250
    assert_eq!(r.revenue_without_traffic(), ["gamma, inc"]);
    let table = r.render(Format::Table);
    assert!(table.contains("NEGATIVE MARGIN"), "{table}");
    assert!(table.contains("negative-margin customers: alpha"), "{table}");
    let j = r.to_json();
    let alpha = j["by_customer"].as_array().unwrap().iter().find(|c| c["key"] == "alpha").unwrap();
    assert_eq!(alpha["margin_micro_usd"], -50);
    assert_eq!(alpha["negative_margin"], true);
    let beta = j["by_customer"].as_array().unwrap().iter().find(|c| c["key"] == "beta").unwrap();
    assert_eq!(beta["margin_micro_usd"], 1_000_000 - 3500);
}

#[test]
fn revenue_formats() {
    assert_eq!(
        Revenue::parse(r#"{"a": 12.5, "b": "0.1", "c": 3}"#).unwrap().0,
        BTreeMap::from([("a".into(), 12_500_000), ("b".into(), 100_000), ("c".into(), 3_000_000)])
    );
    assert_eq!(Revenue::parse("a,1.5\n# comment\n\nb,2\n").unwrap().0.len(), 2);
    assert!(Revenue::parse(r#"{"a": -1}"#).is_err());
    assert!(Revenue::parse(r#"{"a": [1]}"#).is_err());
    assert!(Revenue::parse("a,1\na,2\n").is_err());
    assert!(Revenue::parse("a,1,2\n").is_err());
    assert!(Revenue::parse("a,1\nb,lots\n").is_err());
}

#[test]
fn csv_and_json_carry_integer_micro_usd() {
    let r = report(ReportOptions::default());
    let csv = r.render(Format::Csv);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], Report::CSV_HEADER);
    assert_eq!(lines[1], "total,,4,100.0,2,1,1,3100,820,0,3750,21000,82.1,0,0.0,,,");
    assert!(lines.contains(&"customer,beta,2,50.0,1,1,0,2100,320,0,3500,10500,66.7,0,0.0,,,"), "{csv}");
    let cols = Report::CSV_HEADER.split(',').count();
    assert!(lines.iter().all(|l| l.split(',').count() == cols), "{csv}");
    let j = r.to_json();
    assert_eq!(j["total"]["cost_micro_usd"], 3750);
    assert_eq!(j["total"]["cost_usd"], "$0.003750");
    assert_eq!(j["total"]["savings_pct"], 82.1);
    assert_eq!(j["skipped"]["not_router"], 1);
    assert_eq!(j["by_tier"].as_array().unwrap().len(), 3);
}

#[test]
fn table_shows_every_dimension() {
    let table = report(ReportOptions::default()).render(Format::Table);
    for heading in ["by api", "by model", "by route", "by tier", "by customer"] {
        assert!(table.contains(heading), "{table}");
    }
    assert!(table.contains("cost $0.003750 vs baseline $0.021000: 82.1% saved over 2 priced requests"), "{table}");
}

#[test]
fn groups_without_priced_requests_show_no_cost() {
    let r = report(ReportOptions::default());
    let j = r.to_json();
    let acme = j["by_model"].as_array().unwrap().iter().find(|m| m["key"] == "acme-llm").unwrap();
    assert_eq!((acme["cost_micro_usd"].clone(), acme["unpriced"].clone()), (Value::Null, json!(1)));
    let table = r.render(Format::Table);
    let row = table.lines().find(|l| l.starts_with("acme-llm")).unwrap();
    assert!(!row.contains('$'), "{row}");
    assert!(r.render(Format::Csv).contains("model,acme-llm,1,25.0,0,1,0,100,20,0,,,,0,0.0,,,"));
}

#[test]
fn fallbacks_give_a_rate() {
    let mut r = Report::new(ReportOptions::default());
    let mut v: Value = serde_json::from_str(&sample()[0]).unwrap();
    r.add_line(&v.to_string());
    v["retry"] = json!("fallback:status_503");
    r.add_line(&v.to_string());
    assert_eq!(r.total.fallbacks, 1);
    assert_eq!(r.total.fallback_rate_tenths(), Some(500));
}

#[test]
fn csv_escaping_and_alignment() {
    assert_eq!(csv_escape("a,b"), "\"a,b\"");
    assert_eq!(csv_escape("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(csv_fields(r#""a, ""b""",2"#), vec!["a, \"b\"", "2"]);
    assert_eq!(align(&["k", "n"], &[vec!["long".into(), "1".into()]]), "k     n\nlong  1\n");
}

/// `sample()` with the first two lines as Anthropic Messages requests (an `api` field) and the
/// others as chat completions by their path (lines written before the `api` field).
fn by_api_sample() -> Vec<String> {
    sample()
        .into_iter()
        .enumerate()
        .map(|(i, l)| match serde_json::from_str::<Value>(&l) {
            Ok(mut v) if v.get("router_status").is_some_and(|s| !s.is_null()) && v.get("path").is_none() => {
                if i < 2 {
                    v["api"] = json!("messages");
                } else {
                    v["path"] = json!("/v1/chat/completions");
                }
                v.to_string()
            }
            _ => l,
        })
        .collect()
}

#[test]
fn costs_split_by_api_and_filter_on_it() {
    let mut r = Report::new(ReportOptions::default());
    for l in by_api_sample() {
        r.add_line(&l);
    }
    let rows: Vec<(&str, u64, u64)> =
        r.rows(Dimension::Api).iter().map(|(k, g)| (*k, g.requests, g.cost_micro_usd)).collect();
    // messages: 250 + 3500 (the two priced lines); chat: the unpriced and the usage-missing one.
    assert_eq!(rows, [("messages", 2, 3750), ("chat_completions", 2, 0)]);
    let j = r.to_json();
    assert_eq!(j["by_api"][0]["key"], "messages");
    assert_eq!(j["by_api"][1]["cost_micro_usd"], Value::Null, "no priced request: no cost, not zero");
    assert!(r.render(Format::Csv).contains("\napi,messages,2,50.0,2,0,0,3000,800,0,3750,21000,"));

    let mut only = Report::new(ReportOptions { api: Some("chat_completions".into()), ..ReportOptions::default() });
    for l in by_api_sample() {
        only.add_line(&l);
    }
    assert_eq!((only.total.requests, only.skipped.other_api), (2, 2));
    assert_eq!(only.total.cost_micro_usd, 0);
    assert!(only.render(Format::Table).contains("2 other api"));
}

#[test]
fn budget_use_counts_the_period_at_the_end_of_the_report() {
    let budget = crate::budget::Budget::try_from(crate::budget::RawBudget {
        default_micro_usd: Some(1_000),
        customers: [("alpha".to_string(), 10_000)].into_iter().collect(),
        ..crate::budget::RawBudget::default()
    })
    .unwrap();
    let mut r = Report::new(ReportOptions { budget: Some(budget), ..ReportOptions::default() });
    let priced = |customer: &str, cost: u64, time: &str| {
        line(customer, "gpt-5-nano", "cheap", "priced", (1, 1, 0), Some(cost), Some(cost), time)
    };
    for l in [
        priced("alpha", 4_000, "2026-04-01T23:59:59Z"), // the day before: not counted
        priced("alpha", 2_500, "2026-04-02T00:00:00Z"),
        priced("alpha", 500, "2026-04-02T08:00:00Z"),
        priced("beta", 1_200, "2026-04-02T09:00:00Z"), // default budget, over it
        line("gamma", "acme", "none", "unpriced", (5, 5, 0), None, None, "2026-04-02T10:00:00Z"),
        priced("unknown", 99, "2026-04-02T11:00:00Z"), // no budget for the unknown label
    ] {
        r.add_line(&l);
    }
    let (window, rows) = r.budget_use.rows(None).unwrap();
    assert_eq!(window.start, u64::try_from(parse_rfc3339("2026-04-02").unwrap() / 1_000_000_000).unwrap());
    let got: Vec<(&str, u64, u64)> = rows.iter().map(|b| (b.customer.as_str(), b.budget, b.spent)).collect();
    assert_eq!(got, [("alpha", 10_000, 3_000), ("beta", 1_000, 1_200)]);
    let v = r.to_json();
    assert_eq!(v["budget_use"]["customers"][1]["used_pct"], 120.0);
    assert_eq!(v["budget_use"]["customers"][0]["remaining_micro_usd"], 7_000);
    assert!(r.render(Format::Table).contains("budget use, period"));
    // --until picks the period of its last instant: the day before.
    let until = Some(parse_rfc3339("2026-04-02").unwrap());
    let (w, rows) = r.budget_use.rows(until).unwrap();
    assert_eq!((w.end, rows[0].spent), (window.start, 4_000));
    // Without a budget there is no section.
    assert!(Report::new(ReportOptions::default()).to_json().get("budget_use").is_none());
}

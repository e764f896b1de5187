//! Unit tests of [`crate::accesslog`].

use super::*;

/// A line exactly as Envoy wrote it with the shipped format (from a demo run).
const PRICED: &str = r#"{"baseline_cost_micro_usd":"486","bytes_received":90,"bytes_sent":650,"cached_tokens":"0","cost_micro_usd":"13","customer":"acme","duration_ms":4,"input_tokens":"12","method":"POST","mode":"route","model":"gpt-5-nano","output_tokens":"30","path":"/v1/chat/completions","price_version":"2026-04","protocol":"HTTP/1.1","reason":"score","request_id":"971406b7","requested_model":"auto","response_code":200,"response_flags":"-","route_name":"chat","router_status":"priced","score":"0.0505","start_time":"2026-11-29T18:07:44.387Z","tier":"cheap","upstream_cluster":"llm_cheap","upstream_host":"127.0.0.1:57075"}"#;
const GET_MODELS: &str = r#"{"baseline_cost_micro_usd":null,"cached_tokens":null,"cost_micro_usd":null,"customer":null,"method":"GET","mode":null,"model":null,"path":"/v1/models","router_status":null,"start_time":"2026-11-29T18:07:43.755Z","tier":null}"#;

#[test]
fn reads_an_envoy_line() {
    let r = AccessRecord::from_line(PRICED).unwrap();
    assert_eq!(r.status, RecordStatus::Priced);
    assert_eq!(r.usage, Some(Usage { prompt_tokens: 12, completion_tokens: 30, cached_tokens: 0, ..Usage::ZERO }));
    assert_eq!((r.cost_micro_usd, r.baseline_cost_micro_usd), (Some(13), Some(486)));
    assert_eq!((r.route.as_str(), r.model.as_str(), r.tier.as_str()), ("chat", "gpt-5-nano", "cheap"));
    assert_eq!((r.customer.as_str(), r.mode.as_str(), r.price_version.as_str()), ("acme", "route", "2026-04"));
    assert_eq!(r.api, "chat_completions", "a line before the api field: from its path");
    assert_eq!(r.start_unix_nanos, Some(parse_rfc3339("2026-11-29T18:07:44.387Z").unwrap()));
    assert!(!r.fallback);
}

#[test]
fn non_router_lines_are_classified() {
    assert_eq!(AccessRecord::from_line(GET_MODELS), Err(AccessLogError::NotRouter));
    assert!(matches!(AccessRecord::from_line("[2026-01-01] GET / 200"), Err(AccessLogError::NotJson(_))));
    assert_eq!(AccessRecord::from_line("[1,2]"), Err(AccessLogError::NotObject));
    let err = PRICED.replace(r#""router_status":"priced""#, r#""router_status":"error""#);
    assert_eq!(AccessRecord::from_line(&err), Err(AccessLogError::Uninspected));
}

#[test]
fn integers_are_accepted_as_well_as_strings() {
    let line = r#"{"router_status":"priced","input_tokens":10,"output_tokens":5,"cost_micro_usd":7,"baseline_cost_micro_usd":"99"}"#;
    let r = AccessRecord::from_line(line).unwrap();
    assert_eq!(r.cost_micro_usd, Some(7));
    assert_eq!(r.usage.unwrap().prompt_tokens, 10);
    assert_eq!((r.route.as_str(), r.customer.as_str(), r.tier.as_str()), ("unknown", "unknown", "none"));
    assert_eq!(r.api, UNKNOWN_API, "neither an api field nor a path");
}

#[test]
fn the_api_field_wins_and_older_lines_take_it_from_a_default_path() {
    let api = |from: &str, to: &str| AccessRecord::from_line(&PRICED.replace(from, to)).map(|r| r.api);
    let with_api = |v: &str| api("{\"baseline", &format!("{{\"api\":{v},\"baseline"));
    assert_eq!(with_api("\"messages\"").unwrap(), "messages");
    // A label this build does not know (a newer filter's API) is kept as logged.
    assert_eq!(with_api("\"responses\"").unwrap(), "responses");
    assert_eq!(with_api("null").unwrap(), "chat_completions", "null: from the path");
    assert!(matches!(with_api("[1]"), Err(AccessLogError::Invalid { field: "api", .. })));
    let path = |p: &str| api("\"path\":\"/v1/chat/completions\"", &format!("\"path\":\"{p}\"")).unwrap();
    assert_eq!(path("/v1/messages"), "messages");
    assert_eq!(path("/v1/messages/?beta=true"), "messages");
    assert_eq!(path("/v1/chat/completions;x=1"), "chat_completions");
    assert_eq!(path("/openai/deployments/x/chat/completions"), UNKNOWN_API, "a configured path is not guessed");
}

#[test]
fn inconsistent_lines_are_invalid() {
    for (from, to, field) in [
        (r#""cost_micro_usd":"13""#, r#""cost_micro_usd":null"#, "cost_micro_usd"),
        (r#""cost_micro_usd":"13""#, r#""cost_micro_usd":"-13""#, "cost_micro_usd"),
        (r#""cost_micro_usd":"13""#, r#""cost_micro_usd":"1.5""#, "cost_micro_usd"),
        (r#""input_tokens":"12""#, r#""input_tokens":null"#, "input_tokens"),
        (r#""cached_tokens":"0""#, r#""cached_tokens":"13""#, "cached_tokens"),
        (r#""router_status":"priced""#, r#""router_status":"weird""#, "router_status"),
        (r#""model":"gpt-5-nano""#, r#""model":["x"]"#, "model"),
    ] {
        let line = PRICED.replace(from, to);
        match AccessRecord::from_line(&line) {
            Err(AccessLogError::Invalid { field: f, .. }) => assert_eq!(f, field, "{to}"),
            other => panic!("{to}: {other:?}"),
        }
    }
    let unpriced_with_cost = PRICED.replace(r#""router_status":"priced""#, r#""router_status":"unpriced""#);
    assert!(matches!(
        AccessRecord::from_line(&unpriced_with_cost),
        Err(AccessLogError::Invalid { field: "cost_micro_usd", .. })
    ));
    let bad_time = PRICED.replace("2026-11-29T18:07:44.387Z", "yesterday");
    assert_eq!(AccessRecord::from_line(&bad_time), Err(AccessLogError::BadTime("yesterday".into())));
}

#[test]
fn usage_missing_has_no_usage_and_no_cost() {
    let line = r#"{"router_status":"usage_missing","input_tokens":"0","output_tokens":"0","cached_tokens":"0","cost_micro_usd":"","baseline_cost_micro_usd":""}"#;
    let r = AccessRecord::from_line(line).unwrap();
    assert_eq!(
        (r.status, r.usage, r.cost_micro_usd, r.baseline_cost_micro_usd),
        (RecordStatus::UsageMissing, None, None, None)
    );
}

#[test]
fn fallback_markers() {
    let with = |extra: &str| {
        AccessRecord::from_line(&PRICED.replace("{\"baseline", &format!("{{{extra},\"baseline"))).unwrap().fallback
    };
    assert!(with(r#""retry":"fallback:status_503""#));
    assert!(!with(r#""retry":"escalation:length""#));
    assert!(with(r#""fallback":true"#));
    assert!(with(r#""fallback":"1""#));
    assert!(!with(r#""fallback":"0""#));
    assert!(!with(r#""fallback":null"#));
    assert!(!with(r#""fallback":false"#));
}

#[test]
fn rfc3339() {
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), 0);
    assert_eq!(parse_rfc3339("1970-01-01").unwrap(), 0);
    assert_eq!(parse_rfc3339("2026-04-01T00:00:00Z").unwrap(), 1_775_001_600 * 1_000_000_000);
    assert_eq!(parse_rfc3339("2026-04-01").unwrap(), parse_rfc3339("2026-04-01T00:00:00Z").unwrap());
    assert_eq!(parse_rfc3339("2026-04-01T02:30:00+02:30").unwrap(), parse_rfc3339("2026-04-01T00:00:00Z").unwrap());
    assert_eq!(parse_rfc3339("2026-03-31T23:00:00-01:00").unwrap(), parse_rfc3339("2026-04-01t00:00:00z").unwrap());
    assert_eq!(
        parse_rfc3339("2026-04-01 00:00:00.5Z").unwrap() - parse_rfc3339("2026-04-01T00:00:00Z").unwrap(),
        500_000_000
    );
    assert_eq!(parse_rfc3339("2026-04-01T00:00:00.123456789123Z").unwrap() % 1_000_000_000, 123_456_789);
    assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z").unwrap(), 1_709_164_800 * 1_000_000_000);
    assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z").unwrap(), -1_000_000_000);
    for bad in [
        "",
        "2026-4-01",
        "2026-04-01T00:00:00",
        "2026-13-01",
        "2026-02-29",
        "2026-04-31",
        "2026-04-01T24:00:00Z",
        "2026-04-01T00:60:00Z",
        "2026-04-01T00:00:00.Z",
        "2026-04-01T00:00:00+0200",
        "2026-04-01T00:00:00Zjunk",
        "2026-04-01X00:00:00Z",
        "abcd-ef-gh",
    ] {
        assert!(parse_rfc3339(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn error_messages_are_lowercase() {
    assert_eq!(AccessLogError::NotRouter.to_string(), "not a router request (no router_status)");
    assert_eq!(AccessLogError::BadTime("x".into()).to_string(), "`x` is not an rfc 3339 timestamp");
}

#[test]
fn cache_writes_are_read_and_checked() {
    let with = |w5: &str, w1: &str| {
        PRICED.replace(
            r#""cached_tokens":"0","#,
            &format!(r#""cached_tokens":"2","cache_write_5m_tokens":{w5},"cache_write_1h_tokens":{w1},"#),
        )
    };
    let r = AccessRecord::from_line(&with(r#""3""#, r#""4""#)).unwrap();
    let u = r.usage.unwrap();
    assert_eq!((u.cached_tokens, u.cache_write_5m_tokens, u.cache_write_1h_tokens), (2, 3, 4));
    // Envoy logs a missing filter state as null: no writes.
    let r = AccessRecord::from_line(&with("null", "null")).unwrap();
    assert_eq!(r.usage.unwrap().cache_write_1h_tokens, 0);
    // 2 read + 6 + 5 written > 12 input tokens.
    let e = AccessRecord::from_line(&with(r#""6""#, r#""5""#)).unwrap_err();
    assert!(e.to_string().contains("cache_write_5m_tokens"), "{e}");
}

#[test]
fn service_tier_is_read_and_null_is_standard() {
    let with = |tier: &str| {
        PRICED.replace(r#""cached_tokens":"0","#, &format!(r#""cached_tokens":"0","service_tier":{tier},"#))
    };
    for (tier, expected) in [
        (r#""flex""#, ServiceTier::Flex),
        (r#""priority""#, ServiceTier::Priority),
        (r#""unknown""#, ServiceTier::Unknown),
        (r#""turbo""#, ServiceTier::Unknown),
        ("null", ServiceTier::Standard),
        (r#""-""#, ServiceTier::Standard),
    ] {
        assert_eq!(AccessRecord::from_line(&with(tier)).unwrap().usage.unwrap().service_tier, expected, "{tier}");
    }
    assert_eq!(AccessRecord::from_line(PRICED).unwrap().usage.unwrap().service_tier, ServiceTier::Standard);
    assert!(AccessRecord::from_line(&with("[1]")).is_err());
}

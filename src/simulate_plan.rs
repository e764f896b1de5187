//! The inputs of a simulation, built the one way `llm-router simulate` and the browser
//! playground both build them: a traffic sample read line by line ([`SampleReader`]) and the
//! strategies to compare ([`strategies`]).

use super::{SampleRequest, SimulateError, Split, Strategy, Traffic};
use crate::api::Api;
use crate::pricing::PriceTable;
use crate::router::Router;

/// A JSON Lines sample of request bodies, read one line at a time.
#[derive(Debug)]
pub struct SampleReader<'r> {
    router: &'r Router,
    default_output_tokens: Option<u64>,
    default_api: Api,
    requests: Vec<SampleRequest>,
}

impl<'r> SampleReader<'r> {
    /// An empty sample routed by `router`; lines without `expected_output_tokens` get
    /// `default_output_tokens` (or are skipped without it), lines without `api` are chat
    /// completions ([`SampleReader::with_api`] changes that).
    pub fn new(router: &'r Router, default_output_tokens: Option<u64>) -> Self {
        SampleReader { router, default_output_tokens, default_api: Api::ChatCompletions, requests: Vec::new() }
    }

    /// Lines without an `api` member are requests of `api`.
    #[must_use]
    pub fn with_api(mut self, api: Api) -> Self {
        self.default_api = api;
        self
    }

    /// Read one line. Blank lines are not requests and are passed over.
    ///
    /// # Errors
    ///
    /// Why the line is not a usable request ([`SampleRequest::from_line`]): the caller reports
    /// it as skipped, and the sample goes on without it.
    pub fn add_line(&mut self, line: &str) -> Result<(), SimulateError> {
        if line.trim().is_empty() {
            return Ok(());
        }
        self.requests.push(SampleRequest::from_line(line, self.router, self.default_output_tokens, self.default_api)?);
        Ok(())
    }

    /// The sample as traffic standing for `monthly_requests` a month (default: one month is
    /// the sample itself).
    pub fn into_traffic(self, monthly_requests: Option<u64>) -> Traffic {
        let monthly_requests = monthly_requests.unwrap_or(self.requests.len() as u64);
        Traffic::Sample { requests: self.requests, monthly_requests }
    }
}

/// The strategies to compare: everything on each model of `models` (comma-separated; default
/// every priced model, in price-table order), each fixed split of `splits`, and the configured
/// router when `router` is set and the traffic is a sample.
///
/// # Errors
///
/// [`SimulateError::UnknownModel`] for a model the table does not price, and the errors of
/// [`Split::parse`].
pub fn strategies(
    table: &PriceTable,
    models: Option<&str>,
    splits: &[String],
    router: bool,
    traffic: &Traffic,
) -> Result<Vec<Strategy>, SimulateError> {
    let mut out = Vec::new();
    match models {
        Some(list) => {
            for m in list.split(',').map(str::trim).filter(|m| !m.is_empty()) {
                let price = table.lookup(m).ok_or_else(|| SimulateError::UnknownModel(m.to_string()))?;
                out.push(Strategy::AllOn(price.id.clone()));
            }
        }
        None => out.extend(table.models().map(|m| Strategy::AllOn(m.id.clone()))),
    }
    for spec in splits {
        out.push(Strategy::Split(Split::parse(spec, table)?));
    }
    if router && matches!(traffic, Traffic::Sample { .. }) {
        out.push(Strategy::Router);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_CONFIG_JSON;

    fn router() -> Router {
        Router::from_json(DEFAULT_CONFIG_JSON.as_bytes()).unwrap()
    }

    #[test]
    fn blank_lines_are_passed_over_and_bad_ones_reported() {
        let r = router();
        let mut s = SampleReader::new(&r, Some(10));
        assert!(s.add_line("").is_ok() && s.add_line("  \t").is_ok());
        assert!(s.add_line(r#"{"model":"auto","messages":[{"role":"user","content":"hi"}]}"#).is_ok());
        assert!(matches!(s.add_line("not json"), Err(SimulateError::Line(_))));
        let Traffic::Sample { requests, monthly_requests } = s.into_traffic(None) else { panic!("a sample") };
        assert_eq!((requests.len(), monthly_requests), (1, 1));
    }

    #[test]
    fn strategies_are_models_then_splits_then_the_router() {
        let r = router();
        let table = &r.config.prices;
        let sample = SampleReader::new(&r, None).into_traffic(Some(5));
        let splits = vec!["gpt-5-nano=0.5,gpt-4o=0.5".to_string()];
        let s = strategies(table, Some("gpt-4o, claude-haiku-4-5"), &splits, true, &sample).unwrap();
        let labels: Vec<String> = s.iter().map(Strategy::label).collect();
        assert_eq!(
            labels,
            [
                "all on gpt-4o",
                "all on claude-haiku-4.5",
                "split gpt-5-nano=0.5,gpt-4o=0.5",
                "router (configured policy)"
            ]
        );
        assert_eq!(strategies(table, None, &[], false, &sample).unwrap().len(), table.models().count());
        assert_eq!(
            strategies(table, Some("nope"), &[], true, &sample),
            Err(SimulateError::UnknownModel("nope".into()))
        );
    }
}

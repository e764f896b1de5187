//! `llm-router report` and `llm-router simulate`: the access log and a traffic sample read as
//! money, with the core's report and simulate modules.

use super::*;

fn read_text(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

/// Lines of a file, or of stdin for `-`; invalid UTF-8 is replaced (such lines are then skipped
/// as not JSON by the callers).
pub(super) fn for_each_input_line(path: &str, mut f: impl FnMut(usize, &str)) -> Result<(), String> {
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

/// `report --quality FILE`: judged sample records -> quality by route x tier x model.
fn quality_cmd(path: &str, args: &ReportArgs) -> Result<usize, Failure> {
    use llm_router::report_quality::{QualityOptions, QualityReport};
    if args.format == Format::Csv {
        return Err(usage_error("report", "--quality renders as table or json"));
    }
    let options = QualityOptions { since: args.since, until: args.until, api: args.api.clone() };
    let mut report = QualityReport::new(options);
    for_each_input_line(path, |_, line| report.add_line(line))?;
    for (line, message) in &report.invalid_examples {
        eprintln!("line {line}: skipped: {message}");
    }
    print!("{}", report.render(args.format));
    Ok(0)
}

pub(super) fn report_cmd(args: ReportArgs) -> Result<usize, Failure> {
    use llm_router::report::{Report, ReportOptions, Reprice, Revenue};
    if let Some(path) = &args.quality {
        return quality_cmd(path, &args);
    }
    let mut options = ReportOptions {
        since: args.since,
        until: args.until,
        mode: args.mode,
        api: args.api,
        ..ReportOptions::default()
    };
    if let Some(path) = &args.budget {
        let config = load_config(Some(path))?;
        options.budget =
            Some(config.budget.ok_or_else(|| format!("{path}: the configuration has no `budget` section"))?);
    }
    if let Some(path) = &args.revenue {
        options.revenue = Some(Revenue::parse(&read_text(path)?).map_err(|e| format!("{path}: {e}"))?);
    }
    if let Some(path) = args.prices {
        let table = price_table_file(&path)?;
        let baseline_model = match args.baseline_model {
            Some(b) => b,
            None => load_config(args.config.config.as_deref())?.baseline_model,
        };
        if table.lookup(&baseline_model).is_none() {
            return Err(format!("baseline model `{baseline_model}` is not in {path}; pass --baseline-model").into());
        }
        options.reprice = Some(Reprice { table, baseline_model });
    } else if args.baseline_model.is_some() {
        return Err(usage_error("report", "--baseline-model only applies with --prices"));
    }
    let format = args.format;
    let input = args.input;
    let mut report = Report::new(options);
    for_each_input_line(input.as_deref().unwrap_or("-"), |_, line| report.add_line(line))?;
    for (line, message) in &report.invalid_examples {
        eprintln!("line {line}: skipped: {message}");
    }
    print!("{}", report.render(format));
    Ok(0)
}

pub(super) fn simulate_cmd(args: SimulateArgs) -> Result<usize, Failure> {
    use llm_router::simulate::{self, SampleReader, Traffic};
    use llm_router::usage::Usage;
    let SimulateArgs {
        traffic: traffic_file,
        requests,
        input_tokens: input,
        output_tokens: output,
        cached_tokens: cached,
        models,
        split: splits,
        no_router,
        api,
        prices,
        format,
        config,
    } = args;
    let router_strategy = !no_router;
    if traffic_file.is_some() && (input.is_some() || cached.is_some()) {
        return Err(usage_error(
            "simulate",
            "--input-tokens/--cached-tokens describe a synthetic profile; with --traffic input tokens are estimated from each body",
        ));
    }
    if traffic_file.is_none() {
        for (value, flag) in [(requests, "--requests"), (input, "--input-tokens"), (output, "--output-tokens")] {
            if value.is_none() {
                return Err(usage_error(
                    "simulate",
                    format!("a synthetic profile needs {flag} (or give --traffic FILE)"),
                ));
            }
        }
        if cached.unwrap_or(0) > input.unwrap_or(0) {
            return Err(usage_error("simulate", "--cached-tokens cannot exceed --input-tokens"));
        }
    }
    let router = load_router(config.config.as_deref())?;
    let table = match &prices {
        Some(path) => price_table_file(path)?,
        None => router.config.prices.clone(),
    };
    let mut skipped = 0;
    let traffic = match traffic_file {
        Some(path) => {
            let mut sample = SampleReader::new(&router, output).with_api(api);
            for_each_input_line(&path, |n, line| {
                if let Err(e) = sample.add_line(line) {
                    skipped += 1;
                    eprintln!("line {n}: skipped: {e}");
                }
            })?;
            sample.into_traffic(requests)
        }
        // Checked above: a synthetic profile has all three.
        None => Traffic::Synthetic {
            requests: requests.unwrap_or(0),
            usage: Usage {
                prompt_tokens: input.unwrap_or(0),
                completion_tokens: output.unwrap_or(0),
                cached_tokens: cached.unwrap_or(0),
                ..Usage::ZERO
            },
            api,
        },
    };
    let strategies = simulate::strategies(&table, models.as_deref(), &splits, router_strategy, &traffic)
        .map_err(|e| e.to_string())?;
    let projections = simulate::project(&traffic, &table, &simulate::Baselines::of(&router), &strategies)
        .map_err(|e| e.to_string())?;
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

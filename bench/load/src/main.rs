//! `roster-bench-load`: keeps a fixed number of requests in flight against one URL for a fixed
//! number of requests, records every latency in an HDR histogram (microsecond resolution), and
//! prints throughput and percentiles as JSON. `{n}` in the body becomes a per-request counter,
//! so creates can use unique e-mails.
//!
//! With `--rate`, requests are instead sent on a fixed schedule (open loop, at most
//! `--concurrency` in flight) and each latency is counted from when its request was due, not
//! from when it was sent: a server that stalls is charged for the requests that queued behind
//! the stall (no coordinated omission).
#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::{
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use clap::Parser;
use hdrhistogram::Histogram;
use serde_json::json;

#[derive(Parser, Clone)]
#[command(name = "roster-bench-load", about = "Fixed-concurrency HTTP load with latency percentiles")]
struct Args {
    url: String,
    #[arg(long, default_value = "GET")]
    method: String,
    /// A bearer credential sent with every request.
    #[arg(long)]
    bearer: Option<String>,
    /// A `Cookie` header sent with every request (a console session).
    #[arg(long)]
    cookie: Option<String>,
    /// A JSON body; `{n}` is replaced by the request's number.
    #[arg(long)]
    body: Option<String>,
    #[arg(long, default_value_t = 16)]
    concurrency: u64,
    /// Requests to measure, after the warm-up.
    #[arg(long, default_value_t = 10_000)]
    requests: u64,
    /// Requests sent first and not measured.
    #[arg(long, default_value_t = 500)]
    warmup: u64,
    /// Requests per second on a fixed schedule, instead of as fast as the server answers.
    #[arg(long)]
    rate: Option<f64>,
}

struct Outcome {
    histogram: Histogram<u64>,
    errors: u64,
}

async fn worker(
    client: reqwest::Client,
    args: Arc<Args>,
    next: Arc<AtomicU64>,
    last: u64,
    measure_from: u64,
    origin: Instant,
) -> Result<Outcome, String> {
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string())?;
    let mut errors = 0;
    let method = reqwest::Method::from_bytes(args.method.as_bytes()).map_err(|e| e.to_string())?;
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= last {
            return Ok(Outcome { histogram, errors });
        }
        let mut request = client.request(method.clone(), &args.url);
        if let Some(bearer) = &args.bearer {
            request = request.bearer_auth(bearer);
        }
        if let Some(cookie) = &args.cookie {
            request = request.header("cookie", cookie);
        }
        if let Some(body) = &args.body {
            request = request.header("content-type", "application/json").body(body.replace("{n}", &n.to_string()));
        }
        let started = match args.rate {
            Some(rate) => {
                let due = origin + Duration::from_secs_f64(n as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
                due
            }
            None => Instant::now(),
        };
        let ok = match request.send().await {
            Ok(response) => {
                let success = response.status().is_success();
                success && response.bytes().await.is_ok()
            }
            Err(_) => false,
        };
        if n < measure_from {
            continue;
        }
        if ok {
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX).max(1);
            histogram.saturating_record(micros);
        } else {
            errors += 1;
        }
    }
}

async fn run(args: Args) -> Result<serde_json::Value, String> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::try_from(args.concurrency).unwrap_or(64))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let args = Arc::new(args);
    let next = Arc::new(AtomicU64::new(0));
    let last = args.warmup + args.requests;
    // The clock starts when the warm-up is done; workers keep going without a pause.
    let measuring = tokio::spawn({
        let next = next.clone();
        let warmup = args.warmup;
        async move {
            while next.load(Ordering::Relaxed) < warmup {
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            Instant::now()
        }
    });
    let origin = Instant::now();
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| tokio::spawn(worker(client.clone(), args.clone(), next.clone(), last, args.warmup, origin)))
        .collect();
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string())?;
    let mut errors = 0;
    for worker in workers {
        let outcome = worker.await.map_err(|e| e.to_string())??;
        histogram.add(&outcome.histogram).map_err(|e| e.to_string())?;
        errors += outcome.errors;
    }
    let started = measuring.await.map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    let millis = |quantile: f64| histogram.value_at_quantile(quantile) as f64 / 1000.0;
    Ok(json!({
        "requests": histogram.len(),
        "errors": errors,
        "seconds": seconds,
        "throughput": histogram.len() as f64 / seconds.max(f64::EPSILON),
        "p50_ms": millis(0.50),
        "p90_ms": millis(0.90),
        "p99_ms": millis(0.99),
        "max_ms": histogram.max() as f64 / 1000.0,
    }))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("roster-bench-load: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("roster-bench-load: {error}");
            ExitCode::FAILURE
        }
    }
}

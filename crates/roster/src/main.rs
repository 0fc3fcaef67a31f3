//! The `roster` binary: `serve` and `migrate`.
#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::{
    io::{BufWriter, Write},
    net::SocketAddr,
    process::ExitCode,
    sync::Arc,
    time::Duration,
};

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use roster_core::{Error, store::Store, time::Timestamp};
use roster_http::{AppState, Config, JwtVerifier};
use roster_store::{
    PoolOptions,
    sqlite::Location,
    transfer::{self, Transfer},
};
use tracing_appender::non_blocking::WorkerGuard;

/// glibc's allocator gives each thread that allocates under contention an arena of its own (up
/// to eight per core) and keeps what is freed there: list pages built on the database threads
/// and freed on the HTTP workers left 365 MB resident after 64 concurrent pages of the largest
/// memberships, 136 MB with two arenas (spec §8 asks for at most 256 MB). Two arenas, one per
/// core of the machines Roster is measured on, keep allocation contention low. Other C
/// libraries (musl) have no arenas to limit.
fn limit_allocator_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it runs before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[derive(Parser)]
#[command(name = "roster", version, about = "A self-hosted membership service")]
struct Cli {
    /// Log lines as text, or as one JSON object each (for log collectors).
    #[arg(long, env = "ROSTER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Logs go to stderr, filtered by RUST_LOG (default `info`). A request's log line is formatted
/// on its own thread but written by a dedicated one, in batches: a write to stderr per request
/// was a large part of a simple GET's cost (bench/README.md). Nothing is dropped (not
/// lossy): when the writer falls behind, requests wait for it. Lines are flushed as soon as
/// none are waiting, and when the returned guard is dropped at exit.
fn init_logging(format: LogFormat) -> WorkerGuard {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(BufWriter::new(std::io::stderr()));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    match format {
        LogFormat::Text => logs.with_ansi(ansi).init(),
        LogFormat::Json => logs.json().flatten_event(true).with_current_span(true).init(),
    }
    guard
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (migrations run first).
    Serve(Box<ServeArgs>),
    /// Bring the database schema up to date and exit.
    Migrate(DatabaseArgs),
    /// Print the OpenAPI 3.1 document of the native API (as served at /openapi.json).
    Openapi,
    /// Copy every row of one database into another (SQLite to PostgreSQL, say), then check the
    /// row counts. The target's schema is created first; a target that already holds data is
    /// refused unless --allow-non-empty, which skips rows whose id the target already has.
    CopyData(CopyArgs),
    /// Delete the events created before a date (retention: events are kept until pruned).
    PruneEvents(PruneArgs),
}

#[derive(Args)]
struct PruneArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// Events created before this moment are deleted: a date (`2026-01-01`, midnight UTC) or
    /// an RFC 3339 date-time.
    #[arg(long, value_parser = parse_moment)]
    before: Timestamp,
}

/// `YYYY-MM-DD` (midnight UTC) or an RFC 3339 date-time.
fn parse_moment(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse_rfc3339(text)
        .or_else(|| Timestamp::parse_rfc3339(&format!("{text}T00:00:00Z")))
        .ok_or_else(|| format!("{text:?} is neither a date (2026-01-01) nor an RFC 3339 date-time"))
}

#[derive(Args)]
struct CopyArgs {
    /// The database to read, e.g. sqlite://roster.db.
    #[arg(long)]
    from: String,
    /// The database to write, e.g. postgres://roster@db.internal/roster.
    #[arg(long)]
    to: String,
    /// Copy into a target that already holds rows, skipping rows whose id it has.
    #[arg(long)]
    allow_non_empty: bool,
}

#[derive(Args)]
struct DatabaseArgs {
    /// `sqlite://PATH` (created if missing), `sqlite::memory:` or `postgres://USER@HOST/DB`.
    #[arg(long, env = "ROSTER_DATABASE_URL", default_value = "sqlite://roster.db")]
    database_url: String,
    /// PostgreSQL connections this node may open (each node has its own pool).
    #[arg(long, env = "ROSTER_DATABASE_MAX_CONNECTIONS", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1000))]
    database_max_connections: u16,
    /// Seconds to wait for a PostgreSQL connection or statement before answering 503.
    #[arg(long, env = "ROSTER_DATABASE_TIMEOUT", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
    database_timeout: u64,
}

impl DatabaseArgs {
    fn pool_options(&self) -> PoolOptions {
        PoolOptions {
            max_connections: usize::from(self.database_max_connections),
            timeout: Duration::from_secs(self.database_timeout),
        }
    }
}

#[derive(Args)]
struct ServeArgs {
    /// The address to listen on.
    #[arg(long, env = "ROSTER_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    database: DatabaseArgs,
    /// The operator's key for `/v1/partners`. Without one, the first start creates partner
    /// `default` and prints its admin keys once.
    #[arg(long, env = "ROSTER_MASTER_KEY", hide_env_values = true)]
    master_key: Option<String>,
    /// Seconds one request may take before it is answered 503 and abandoned.
    #[arg(long, env = "ROSTER_REQUEST_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    request_timeout: u64,
    /// Milliseconds this node may answer from memory for an API key it looked up. A key
    /// revoked through another node is refused here within this time (through this node: at
    /// once). 0 looks the key up on every request.
    #[arg(long, env = "ROSTER_CREDENTIAL_CACHE_TTL", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    credential_cache_ttl: u64,
    /// Accept HS256 JWTs signed with this secret; their `sub` names the user who acts.
    #[arg(long, env = "ROSTER_JWT_HS256_SECRET", hide_env_values = true, conflicts_with = "jwt_rs256_public_key")]
    jwt_hs256_secret: Option<String>,
    /// Accept RS256 JWTs verified with the RSA public key in this PEM file.
    #[arg(long, env = "ROSTER_JWT_RS256_PUBLIC_KEY")]
    jwt_rs256_public_key: Option<std::path::PathBuf>,
    /// Require this `iss` in JWTs.
    #[arg(long, env = "ROSTER_JWT_ISSUER")]
    jwt_issuer: Option<String>,
    /// Require this `aud` in JWTs.
    #[arg(long, env = "ROSTER_JWT_AUDIENCE")]
    jwt_audience: Option<String>,
    /// Origins (comma-separated, or `*`) browsers may call the API from; CORS is off without.
    #[arg(long, env = "ROSTER_CORS_ORIGINS", value_delimiter = ',')]
    cors_origins: Vec<String>,
    /// Proxies (CIDRs, comma-separated) whose X-Forwarded-For names the client's address.
    #[arg(long, env = "ROSTER_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<ipnet::IpNet>,
    /// Allow webhook endpoints on loopback, private and link-local addresses (refused by
    /// default, so a key cannot make Roster call into the network it runs in).
    #[arg(long, env = "ROSTER_WEBHOOK_ALLOW_PRIVATE")]
    webhook_allow_private: bool,
}

fn main() -> ExitCode {
    limit_allocator_arenas();
    let cli = Cli::parse();
    let _logs_flushed_at_exit = init_logging(cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("roster: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(*args).await,
            Command::Migrate(args) => migrate(args).await,
            Command::Openapi => print_openapi(),
            Command::CopyData(args) => copy_data(args).await,
            Command::PruneEvents(args) => prune_events(args).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("roster: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn open(database: &DatabaseArgs) -> Result<Arc<dyn Store>, String> {
    roster_store::open_with(&database.database_url, &database.pool_options())
        .await
        .map_err(|error| format!("cannot open {}: {}", roster_store::redact(&database.database_url), describe(error)))
}

/// How many events one statement deletes: short transactions, so writers are not held up.
const PRUNE_BATCH: u32 = 10_000;

async fn prune_events(args: PruneArgs) -> Result<(), String> {
    let store = open(&args.database).await?;
    let mut pruned = 0;
    loop {
        let deleted = store.prune_events(args.before, PRUNE_BATCH).await.map_err(describe)?;
        pruned += deleted;
        if deleted < u64::from(PRUNE_BATCH) {
            break;
        }
    }
    eprintln!("pruned {pruned} events created before {}", args.before.to_rfc3339());
    // The webhook messages that carried them, and the log of their attempts, go with them.
    let mut logged = 0;
    loop {
        let deleted = store.prune_webhook_log(args.before, PRUNE_BATCH).await.map_err(describe)?;
        logged += deleted;
        if deleted == 0 {
            break;
        }
    }
    eprintln!("pruned {logged} webhook messages and deliveries made before {}", args.before.to_rfc3339());
    Ok(())
}

async fn migrate(args: DatabaseArgs) -> Result<(), String> {
    open(&args).await?;
    tracing::info!("database is up to date");
    Ok(())
}

fn print_openapi() -> Result<(), String> {
    let document = roster_http::openapi().to_pretty_json().map_err(|e| format!("cannot render the document: {e}"))?;
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{document}") {
        // A reader that stops early (`roster openapi | head`) is not an error.
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("cannot print: {error}")),
        _ => Ok(()),
    }
}

async fn open_for_copy(url: &str) -> Result<Arc<dyn Transfer>, String> {
    transfer::open(url).await.map_err(|error| format!("cannot open {}: {}", roster_store::redact(url), describe(error)))
}

async fn copy_data(args: CopyArgs) -> Result<(), String> {
    if args.from == args.to {
        return Err("--from and --to name the same database".to_owned());
    }
    // Opening a SQLite URL creates the file; a mistyped source must not become an empty copy.
    if let Some(Location::File(path)) = Location::parse(&args.from)
        && !path.exists()
    {
        return Err(format!("the source {} does not exist", path.display()));
    }
    let from = open_for_copy(&args.from).await?;
    let to = open_for_copy(&args.to).await?;
    let fail = |error: Error| format!("copy failed: {}", describe(error));
    let existing = transfer::total_rows(to.as_ref()).await.map_err(fail)?;
    if existing > 0 && !args.allow_non_empty {
        return Err(format!("the target already holds {existing} rows; pass --allow-non-empty to copy into it anyway"));
    }
    let total = transfer::total_rows(from.as_ref()).await.map_err(fail)?;
    // Drawn only when stderr is a terminal.
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template("{msg:>20} [{bar:40}] {pos}/{len} rows ({eta})")
            .map_err(|e| e.to_string())?
            .progress_chars("=> "),
    );
    let reports = transfer::copy(from.as_ref(), to.as_ref(), args.allow_non_empty, |table, rows| {
        bar.set_message(table);
        bar.inc(rows);
    })
    .await
    .map_err(fail)?;
    bar.finish_and_clear();
    for report in &reports {
        eprintln!(
            "{:>20}: {} in the source, {} copied, {} in the target",
            report.table, report.source, report.written, report.target
        );
    }
    eprintln!("copied and verified {} rows", reports.iter().map(|r| r.written).sum::<u64>());
    Ok(())
}

fn describe(error: Error) -> String {
    match error {
        Error::Internal(cause) => cause,
        other => other.to_string(),
    }
}

/// On a first start without a master key, creates partner `default` so a newcomer has keys to
/// try at once. Its secrets are printed once, on stderr, and never again.
async fn create_default_partner(store: Arc<dyn Store>) -> Result<(), Error> {
    // The partner's admin group and keys have events, shown in the native shape like any.
    let config = roster_app::Config {
        render_object: roster_app::RenderObject::new(roster_http::wire::object),
        ..roster_app::Config::default()
    };
    let app = roster_app::App::new(store, config);
    let Some(provisioned) = roster_app::partners::create_first(&app).await? else {
        return Ok(());
    };
    eprintln!("Created partner \"default\" ({}). Its admin keys are shown only now:", provisioned.partner.id);
    for key in &provisioned.admin_keys {
        eprintln!("  {} admin key: {}", key.key.mode.as_str(), key.secret);
    }
    Ok(())
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    // Configuration is checked before anything is created.
    let jwt = jwt_verifier(&args)?;
    let store = open(&args.database).await?;
    if args.master_key.is_none() {
        create_default_partner(store.clone()).await.map_err(|e| format!("cannot create the default partner: {e}"))?;
    }
    let config = Config {
        jwt,
        master_key: args.master_key,
        request_timeout: Duration::from_secs(args.request_timeout),
        credential_cache_ttl: Duration::from_millis(args.credential_cache_ttl),
        trusted_proxies: args.trusted_proxies,
        cors_origins: args.cors_origins,
        webhook_allow_private: args.webhook_allow_private,
        ..Config::default()
    };
    let state = AppState::new(store, config);
    // Delivers the outbox beside the requests, for as long as the node runs; what it leaves
    // undone when the node stops is claimed again by any node once its lease passes.
    let deliveries = tokio::spawn(roster_app::webhooks::run(state.app().clone()));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let address = listener.local_addr().map_err(|e| format!("cannot read the listening address: {e}"))?;
    let shutdown = shutdown_signal()?;
    tracing::info!(%address, "serving");
    let app = roster_http::router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await.map_err(|e| format!("server failed: {e}"))?;
    deliveries.abort();
    tracing::info!("stopped");
    Ok(())
}

fn jwt_verifier(args: &ServeArgs) -> Result<Option<JwtVerifier>, String> {
    let (issuer, audience) = (args.jwt_issuer.as_deref(), args.jwt_audience.as_deref());
    if let Some(secret) = &args.jwt_hs256_secret {
        return JwtVerifier::hs256(secret.as_bytes(), issuer, audience)
            .map(Some)
            .map_err(|e| format!("--jwt-hs256-secret: {e}"));
    }
    match &args.jwt_rs256_public_key {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            JwtVerifier::rs256(&pem, issuer, audience).map(Some).map_err(|e| format!("{}: {e}", path.display()))
        }
        None => Ok(None),
    }
}

/// What resolves on SIGTERM or Ctrl-C (SIGINT); the server then stops accepting and drains
/// in-flight requests. The handlers are registered here, before the server accepts anything:
/// registered lazily, a SIGTERM right after start could still meet the default action and
/// end the process at once.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).map_err(|e| format!("cannot listen for SIGTERM: {e}"))?;
        let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| format!("cannot listen for SIGINT: {e}"))?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {},
                _ = interrupt.recv() => {},
            }
            tracing::info!("shutting down");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            if let Err(error) = tokio::signal::ctrl_c().await {
                tracing::warn!(%error, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
            tracing::info!("shutting down");
        })
    }
}

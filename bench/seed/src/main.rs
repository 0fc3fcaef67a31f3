//! `roster-bench-seed`: N organisations × M members with a realistic mix (one admin and one
//! owner per organisation, a tenth of invitations pending, a custom role on every fifth member),
//! written through `copy-data`'s bulk path (multi-row INSERTs in key order), not one request per
//! row. Prints, as JSON, the admin key and the ids the benchmark scenarios need.
#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::process::ExitCode;

use clap::Parser;
use roster_core::{ids, model::Mode, provision::provision_partner, time::Timestamp};
use roster_store::transfer::{self, BATCH, Cell, Row, TABLES, Table};
use serde_json::json;

#[derive(Parser)]
#[command(name = "roster-bench-seed", about = "Fill an empty Roster database for benchmarks")]
struct Args {
    /// An empty database: sqlite://PATH or postgres://…
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value_t = 10)]
    organisations: u64,
    #[arg(long, default_value_t = 100)]
    members_per_organisation: u64,
}

fn table(name: &str) -> Result<&'static Table, String> {
    TABLES.iter().find(|t| t.name == name).ok_or_else(|| format!("no table {name}"))
}

fn text(value: impl Into<String>) -> Cell {
    Cell::Text(value.into())
}

/// Writes `rows` once a batch is full (or, with `flush`, whatever is left).
async fn write_all(
    to: &dyn transfer::Transfer,
    table: &'static Table,
    rows: &mut Vec<Row>,
    flush: bool,
) -> Result<(), String> {
    if rows.len() >= BATCH as usize || (flush && !rows.is_empty()) {
        to.write(table, rows, false).await.map_err(|e| format!("{}: {e}", table.name))?;
        rows.clear();
    }
    Ok(())
}

async fn seed(args: Args) -> Result<serde_json::Value, String> {
    let store = roster_store::open(&args.database_url).await.map_err(|e| e.to_string())?;
    let bulk = transfer::open(&args.database_url).await.map_err(|e| e.to_string())?;
    if transfer::total_rows(bulk.as_ref()).await.map_err(|e| e.to_string())? > 0 {
        return Err("the database is not empty".to_owned());
    }
    // Old enough that every generated row is in the past, ordered by creation.
    let start = Timestamp::now().millis() - 10 * 365 * 24 * 3600 * 1000;
    let provisioned = provision_partner("Bench".to_owned(), Timestamp(start));
    let mut transaction = store.begin().await.map_err(|e| e.to_string())?;
    transaction.insert_partner(&provisioned).await.map_err(|e| e.to_string())?;
    transaction.commit().await.map_err(|e| e.to_string())?;
    let partner = provisioned.partner.id.clone();
    let admin_key = provisioned.admin_keys.iter().find(|k| k.key.mode == Mode::Live).map(|k| k.secret.clone());

    let (organisations, users, roles, memberships) =
        (table("organisations")?, table("users")?, table("roles")?, table("memberships")?);
    let (mut org_rows, mut user_rows, mut role_rows, mut membership_rows) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut sample = json!({});
    // A member in the middle holding the custom role, so checks also read role permissions.
    let sample_member = match args.members_per_organisation / 2 / 5 * 5 + 4 {
        m if m < args.members_per_organisation => m,
        _ => args.members_per_organisation / 2,
    };
    let mut clock = start;
    for o in 0..args.organisations {
        clock += 1;
        let organisation = ids::new_id(ids::ORGANISATION, Timestamp(clock));
        org_rows.push(vec![
            text(&organisation),
            text(&partner),
            Cell::Bool(true),
            text(format!("Organisation {o}")),
            Cell::Bool(false),
            Cell::Null,
            Cell::Int(clock),
            Cell::Int(clock),
        ]);
        let role = ids::new_id(ids::ROLE, Timestamp(clock));
        role_rows.push(vec![
            text(&role),
            text(&partner),
            Cell::Bool(true),
            text(&organisation),
            text("Billing"),
            Cell::Json(json!(["invoices:*", "customers:read"])),
            Cell::Int(clock),
            Cell::Int(clock),
        ]);
        for m in 0..args.members_per_organisation {
            clock += 1;
            let user = ids::new_id(ids::USER, Timestamp(clock));
            let email = format!("member{m}.org{o}@example.com");
            user_rows.push(vec![
                text(&user),
                text(&partner),
                Cell::Bool(true),
                text(&email),
                text(&email),
                text("Bench"),
                text(format!("Member {m}")),
                Cell::Bool(false),
                Cell::Int(clock),
                Cell::Int(clock),
            ]);
            let membership = ids::new_id(ids::MEMBERSHIP, Timestamp(clock));
            let role_ids = if m % 5 == 4 { json!([role]) } else { json!([]) };
            membership_rows.push(vec![
                text(&membership),
                text(&partner),
                Cell::Bool(true),
                text(&organisation),
                text(&user),
                text(if m == 0 { "ADMIN" } else { "STANDARD" }),
                Cell::Json(role_ids),
                Cell::Json(json!([])),
                Cell::Bool(m == 0),
                Cell::Bool(false),
                Cell::Json(json!([])),
                text(if m % 10 == 9 { "pending" } else { "accepted" }),
                Cell::Bool(true),
                text("live_access"),
                Cell::Bool(false),
                Cell::Bool(true),
                Cell::Bool(true),
                Cell::Bool(true),
                Cell::Bool(true),
                Cell::Null,
                Cell::Null,
                Cell::Json(json!({"seed": "bench"})),
                Cell::Int(clock),
                Cell::Int(clock),
            ]);
            if o == args.organisations / 2 && m == sample_member {
                sample = json!({"organisation_id": organisation, "user_id": user, "membership_id": membership, "role_id": role});
            }
            // Parents are written before children: organisations and users, then memberships.
            write_all(bulk.as_ref(), organisations, &mut org_rows, false).await?;
            write_all(bulk.as_ref(), roles, &mut role_rows, false).await?;
            write_all(bulk.as_ref(), users, &mut user_rows, false).await?;
            if membership_rows.len() >= BATCH as usize {
                write_all(bulk.as_ref(), organisations, &mut org_rows, true).await?;
                write_all(bulk.as_ref(), roles, &mut role_rows, true).await?;
                write_all(bulk.as_ref(), users, &mut user_rows, true).await?;
                write_all(bulk.as_ref(), memberships, &mut membership_rows, true).await?;
            }
        }
    }
    for (table, rows) in [
        (organisations, &mut org_rows),
        (roles, &mut role_rows),
        (users, &mut user_rows),
        (memberships, &mut membership_rows),
    ] {
        write_all(bulk.as_ref(), table, rows, true).await?;
    }
    bulk.settle().await.map_err(|e| e.to_string())?;
    let total = args.organisations * args.members_per_organisation;
    Ok(json!({"admin_key": admin_key, "memberships": total, "sample": sample}))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("roster-bench-seed: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(seed(args)) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("roster-bench-seed: {error}");
            ExitCode::FAILURE
        }
    }
}

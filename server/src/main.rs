//! `mwindex-server`: the EV-charging `GET /api/maintenance-windows` over a
//! shared mwindex index, with per-organization API keys. With no options it
//! serves a generated demo on 127.0.0.1:8080.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use mwindex::{Durable, DurableOptions, SharedIndex};

use mwindex_server::app::{self, App};
use mwindex_server::tenants::Tenants;
use mwindex_server::{demo, import, metrics, model};

/// The reference server for mwindex: maintenance windows over HTTP.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Options {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Tenants file (organizations and API keys, JSON); without it, the
    /// embedded demo's tenants and windows are served.
    #[arg(long)]
    tenants: Option<PathBuf>,
    /// Windows the embedded demo generates.
    #[arg(long, default_value_t = 300_000)]
    demo_windows: usize,
    /// Seed of the embedded demo.
    #[arg(long, default_value_t = 42)]
    demo_seed: u64,
    /// Keep the index in this directory (created if new, recovered if
    /// not): every write is answered only once it is durable.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Import EV items from a JSON Lines file (one item per line, in the
    /// response's item shape), all or nothing.
    #[arg(long)]
    import: Option<PathBuf>,
    /// Import incident.io-style items from a JSON Lines file (each with an
    /// added `organization_id`), all or nothing.
    #[arg(long)]
    import_incident: Option<PathBuf>,
    /// Instead of serving: time the engine's query and the JSON encoding of
    /// the load benchmark's typical requests on the demo, and print them.
    #[arg(long)]
    measure: bool,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let options = Options::parse();
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mwindex-server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: Options) -> Result<(), String> {
    let (tenants, windows, incidents, demo) = match &options.tenants {
        Some(path) => (Tenants::load(path)?, Vec::new(), Vec::new(), false),
        None => {
            let demo = demo::generate(options.demo_windows, options.demo_seed, app::now());
            let tenants = Tenants::new(demo.tenants).map_err(|e| format!("demo tenants: {e}"))?;
            (tenants, demo.windows, demo.incidents, true)
        }
    };
    let dir = |name: &str| options.data_dir.as_ref().map(|d| d.join(name));
    let (ev, ev_durable) = open_index(dir("ev"), &tenants, windows)?;
    let (incident, incident_durable) = open_index(dir("incident"), &tenants, incidents)?;
    if let Some(path) = &options.import {
        let n = import::import(path, &ev, &tenants, app::now())?;
        tracing::info!(windows = n, "imported {}", path.display());
    }
    if let Some(path) = &options.import_incident {
        let n = import::import_incident(path, &incident, &tenants)?;
        tracing::info!(windows = n, "imported {}", path.display());
    }
    let count = ev.len() + incident.len();
    let id_locks = (0..app::ID_LOCKS).map(|_| parking_lot::Mutex::new(())).collect();
    let ev_durable = ev_durable.map(Arc::new);
    let incident_durable = incident_durable.map(Arc::new);
    let app = Arc::new(App {
        ev,
        incident,
        tenants,
        id_locks,
        metrics: metrics::Metrics::default(),
        ev_log: ev_durable.clone().map(|d| Box::new(move || d.stats()) as app::LogFigures),
        incident_log: incident_durable.clone().map(|d| Box::new(move || d.stats()) as app::LogFigures),
    });
    if options.measure {
        measure(&app);
        return Ok(());
    }
    let served = serve(&options, app, count, demo);
    // Every acknowledged write is durable already; closing waits for a
    // checkpoint in progress and syncs what a relaxed policy left.
    if let Some(d) = ev_durable.and_then(|d| Arc::try_unwrap(d).ok()) {
        d.close().map_err(|e| format!("closing the data directory: {e}"))?;
    }
    if let Some(d) = incident_durable.and_then(|d| Arc::try_unwrap(d).ok()) {
        d.close().map_err(|e| format!("closing the data directory: {e}"))?;
    }
    served
}

type Opened<I, P> = (SharedIndex<I, P>, Option<Durable<I, P>>);

/// An index over the tenants' organizations: in memory, or kept in `dir`
/// (recovered, its organizations brought up to the tenants'); `initial`
/// windows go into a new (empty) index only.
fn open_index<I, P>(
    dir: Option<PathBuf>,
    tenants: &Tenants,
    initial: Vec<(mwindex::Window<I>, P)>,
) -> Result<Opened<I, P>, String>
where
    I: mwindex::WindowId,
    P: mwindex::Payload + mwindex::Persist,
{
    let builder = SharedIndex::builder().organizations(tenants.organizations().iter().copied());
    let Some(dir) = dir else {
        return Ok((builder.build_shared_from(initial).map_err(|e| format!("building the index: {e}"))?, None));
    };
    let durable: Durable<I, P> = Durable::open(&dir, DurableOptions::new().index(builder))
        .map_err(|e| format!("opening {}: {e}", dir.display()))?;
    let r = durable.recovery();
    tracing::info!(
        snapshot = ?r.snapshot,
        replayed = r.replayed,
        torn_bytes = r.torn_bytes,
        took_ms = r.took.as_millis() as u64,
        "recovered {}",
        dir.display()
    );
    let index = durable.index().clone();
    sync_organizations(&index, tenants)?;
    if index.is_empty() && !initial.is_empty() {
        index.bulk_insert(initial).map_err(|e| format!("loading the demo: {e}"))?;
    }
    Ok((index, Some(durable)))
}

/// Adds the tenants' organizations a recovered index lacks, and moves
/// those whose parent changed (each a logged write).
fn sync_organizations<I: mwindex::WindowId, P: mwindex::Payload>(
    index: &SharedIndex<I, P>,
    tenants: &Tenants,
) -> Result<(), String> {
    for &(org, parent) in tenants.organizations() {
        match index.organization_parent(org) {
            Err(_) => index.add_organization(org, parent),
            Ok(now) if now != parent => index.move_organization(org, parent),
            Ok(_) => Ok(()),
        }
        .map_err(|e| format!("organization {org}: {e}"))?;
    }
    Ok(())
}

fn serve(options: &Options, app: Arc<App>, count: usize, demo: bool) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(options.listen).await.map_err(|e| format!("{}: {e}", options.listen))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        // The first line names the address: tests (and people) read it.
        // Nothing printed is worth dying for if stdout is gone.
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "mwindex-server listening on http://{local} ({count} windows)");
        if demo {
            let _ = writeln!(
                out,
                "demo API keys: demo-voltway-parent (Voltway Energy and its 3 child organizations), demo-voltway-child-1, demo-chargehub-parent, demo-city-parent"
            );
            let _ = writeln!(out, "try:");
            let _ = writeln!(
                out,
                "  curl -s -H 'Authorization: Bearer demo-voltway-parent' 'http://{local}/api/maintenance-windows?status=active&pageSize=5'"
            );
            let _ = writeln!(
                out,
                "  curl -s -H 'Authorization: Bearer demo-chargehub-parent' 'http://{local}/api/maintenance-windows?afterTimestamp=2026-12-01T00:00:00Z&beforeTimestamp=2026-12-08T00:00:00Z&siteIds=101'"
            );
        }
        let _ = out.flush();
        drop(out);
        axum::serve(listener, app::router(app)).with_graceful_shutdown(shutdown()).await.map_err(|e| e.to_string())
    })
}

/// Resolves on SIGINT or SIGTERM: in-flight requests then finish.
async fn shutdown() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// Medians, in microseconds, of the engine's time and the JSON encoding's
/// for the load benchmark's EV requests (what a request costs beside HTTP).
fn measure(app: &App) {
    let key = mwindex::OrgId(1);
    let now = app::now();
    let week = now.checked_add(std::time::Duration::from_secs(7 * 86_400)).unwrap_or(now);
    let first = app::ev_query(key, Some("pageSize=1")).ok().and_then(|q| app.ev.query(&q).ok());
    let site = first.and_then(|p| p.items().first().map(|e| e.payload.site.id)).unwrap_or(100);
    let requests = [
        (
            "EV list, 7 days, one site",
            format!("afterTimestamp={}&beforeTimestamp={}&siteIds={site}", model::rfc3339(now), model::rfc3339(week)),
        ),
        ("EV list, parent key, 50 items", String::new()),
        ("EV list, status=active", "status=active".to_string()),
    ];
    println!("| request | items | engine µs (median) | JSON µs (median) | JSON bytes |");
    println!("|---|---:|---:|---:|---:|");
    for (name, raw) in requests {
        let Ok(q) = app::ev_query(key, Some(&raw)) else { continue };
        let q = q.consistent(false);
        let (mut engine, mut json) = (Vec::new(), Vec::new());
        let (mut items, mut bytes) = (0, 0);
        for _ in 0..2_000 {
            let t = std::time::Instant::now();
            let Ok(page) = app.ev.query(&q) else { break };
            engine.push(t.elapsed().as_secs_f64() * 1e6);
            let t = std::time::Instant::now();
            let out = app::ev_page_json(app, &page).unwrap_or_default();
            json.push(t.elapsed().as_secs_f64() * 1e6);
            items = page.items().len();
            bytes = out.len();
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(0.0)
        };
        println!("| {name} | {items} | {:.1} | {:.1} | {bytes} |", median(&mut engine), median(&mut json));
    }
}

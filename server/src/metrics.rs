//! `GET /metrics` (Prometheus text format): requests and latency per route,
//! method and status, windows per tenant tree, and in durable mode the
//! log's and snapshots' figures. Every request is also logged (method,
//! route, status, latency).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mwindex::Query;
use parking_lot::Mutex;

use crate::app::App;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

/// Request figures, by (route, method, status).
#[derive(Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(String, String, u16), Series>>,
}

impl Metrics {
    fn record(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let mut series = self.series.lock();
        let s = series.entry((route.to_string(), method.to_string(), status)).or_default();
        s.count += 1;
        s.sum += seconds;
        for (b, &bound) in s.buckets.iter_mut().zip(&BUCKETS) {
            if seconds <= bound {
                *b += 1;
            }
        }
    }
}

/// Records and logs every request.
pub async fn track(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let began = Instant::now();
    let method = request.method().to_string();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await;
    let seconds = began.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    app.metrics.record(&route, &method, status, seconds);
    tracing::info!(method, route, status, latency_us = (seconds * 1e6) as u64, "request");
    response
}

/// `GET /metrics`.
pub async fn serve(State(app): State<Arc<App>>) -> impl IntoResponse {
    let mut out = String::new();
    let _ = writeln!(out, "# HELP mwindex_http_requests_total Requests answered, by route, method and status.");
    let _ = writeln!(out, "# TYPE mwindex_http_requests_total counter");
    let _ = writeln!(out, "# HELP mwindex_http_request_duration_seconds Time to answer a request.");
    let _ = writeln!(out, "# TYPE mwindex_http_request_duration_seconds histogram");
    {
        let series = app.metrics.series.lock();
        for ((route, method, status), s) in series.iter() {
            let labels = format!("route=\"{route}\",method=\"{method}\",status=\"{status}\"");
            let _ = writeln!(out, "mwindex_http_requests_total{{{labels}}} {}", s.count);
            for (b, bound) in s.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(out, "mwindex_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {b}");
            }
            let _ = writeln!(out, "mwindex_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", s.count);
            let _ = writeln!(out, "mwindex_http_request_duration_seconds_sum{{{labels}}} {}", s.sum);
            let _ = writeln!(out, "mwindex_http_request_duration_seconds_count{{{labels}}} {}", s.count);
        }
    }
    let _ = writeln!(out, "# HELP mwindex_windows Maintenance windows, by API and tenant tree (root organization).");
    let _ = writeln!(out, "# TYPE mwindex_windows gauge");
    for &(org, parent) in app.tenants.organizations() {
        if parent.is_none() {
            let ev = app.ev.count(&Query::new().scope(org)).unwrap_or(0);
            let incident = app.incident.count(&Query::new().scope(org)).unwrap_or(0);
            let _ = writeln!(out, "mwindex_windows{{api=\"ev\",root=\"{org}\"}} {ev}");
            let _ = writeln!(out, "mwindex_windows{{api=\"incident\",root=\"{org}\"}} {incident}");
        }
    }
    for (api, stats) in [("ev", app.ev_log.as_ref()), ("incident", app.incident_log.as_ref())] {
        let Some(stats) = stats.map(|f| f()) else { continue };
        for (name, help, value) in [
            ("log_records_total", "Log records appended since start.", stats.records),
            ("log_bytes_total", "Log bytes appended since start.", stats.bytes),
            ("log_syncs_total", "Log syncs since start.", stats.syncs),
            ("checkpoints_total", "Checkpoints written since start.", stats.checkpoints),
            ("snapshot_bytes", "Size of the last snapshot written.", stats.snapshot_bytes),
        ] {
            let _ = writeln!(out, "# HELP mwindex_{name} {help}");
            let _ = writeln!(out, "mwindex_{name}{{api=\"{api}\"}} {value}");
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

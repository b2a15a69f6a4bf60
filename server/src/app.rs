//! The application: the index, the tenants, and the routes.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mwindex::{ChargerId, OrgId, Query, SharedIndex, SiteId, Timestamp};
use serde::Serialize;

use crate::error::ApiError;
use crate::model::{EvItem, EvPayload};
use crate::params::Params;
use crate::tenants::Tenants;

/// Everything a request reads.
pub struct App {
    pub ev: SharedIndex<u64, EvPayload>,
    pub tenants: Tenants,
}

/// Requests taking longer than this are answered 503.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request body accepted.
pub const MAX_BODY: usize = 1 << 20;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/maintenance-windows", get(ev_list))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, REQUEST_TIMEOUT))
        .with_state(app)
}

/// The organization the request's bearer token acts for.
fn authenticate(app: &App, headers: &HeaderMap) -> Result<OrgId, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization header (Authorization: Bearer <token>)"))?;
    let token = value
        .as_bytes()
        .strip_prefix(b"Bearer ")
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <token>`"))?;
    app.tenants.authenticate(token).ok_or_else(|| ApiError::unauthorized("unknown API key"))
}

const EV_PARAMS: [&str; 8] = [
    "afterTimestamp",
    "beforeTimestamp",
    "chargerIds",
    "siteIds",
    "organizationIds",
    "nextPageCursor",
    "status",
    "pageSize",
];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Pagination<'a> {
    has_next_page: bool,
    next_page_cursor: Option<&'a str>,
}

#[derive(Serialize)]
struct EvPage<'a> {
    data: Vec<EvItem<'a>>,
    pagination: Pagination<'a>,
}

/// `GET /api/maintenance-windows`.
async fn ev_list(State(app): State<Arc<App>>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    match ev_list_inner(&app, &headers, raw.as_deref()) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => e.into_response(),
    }
}

fn ev_list_inner(app: &App, headers: &HeaderMap, raw: Option<&str>) -> Result<Vec<u8>, ApiError> {
    let org = authenticate(app, headers)?;
    let p = Params::parse(raw, &EV_PARAMS)?;
    let after = p.timestamp("afterTimestamp")?;
    let before = p.timestamp("beforeTimestamp")?;
    if let (Some(a), Some(b)) = (after, before)
        && a >= b
    {
        return Err(ApiError::parameter("beforeTimestamp", "must be after afterTimestamp"));
    }
    let mut q = Query::new().scope(org).page_size(p.page_size("pageSize", mwindex::MAX_PAGE_SIZE)?);
    if let Some(a) = after {
        q = q.after(a);
    }
    if let Some(b) = before {
        q = q.before(b);
    }
    if let Some(ids) = p.ids("chargerIds")? {
        q = q.chargers(ids.into_iter().map(ChargerId));
    }
    if let Some(ids) = p.ids("siteIds")? {
        q = q.sites(ids.into_iter().map(SiteId));
    }
    if let Some(ids) = p.ids("organizationIds")? {
        // Intersected with the key's scope by the engine; unknown ids and
        // those of other tenants alike match nothing.
        q = q.organizations(ids.into_iter().map(OrgId));
    }
    if let Some(status) = p.status("status")? {
        q = q.status(status, now());
    }
    if let Some(cursor) = p.single("nextPageCursor")? {
        q = q.cursor(cursor).consistent(true);
    } else {
        q = q.consistent(true);
    }
    let page = app.ev.query(&q).map_err(|e| ApiError::from_engine(&e))?;
    let data =
        page.items().iter().map(|e| EvItem::new(&e.window, &e.payload, app.tenants.name(e.window.org()))).collect();
    let body = EvPage {
        data,
        pagination: Pagination { has_next_page: page.has_next(), next_page_cursor: page.next_cursor() },
    };
    serde_json::to_vec(&body).map_err(|e| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "internal",
        message: e.to_string(),
        parameter: None,
    })
}

/// The server's current time.
pub fn now() -> Timestamp {
    let micros = chrono::Utc::now().timestamp_micros();
    Timestamp::from_micros(micros).unwrap_or(Timestamp::MAX)
}

//! The application: the index, the tenants, and the routes.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use mwindex::{ChargerId, OrgId, Query, SharedIndex, SiteId, Timestamp};
use serde::Serialize;

use crate::error::ApiError;
use crate::model::{EvItem, EvPayload};
use crate::params::Params;
use crate::tenants::Tenants;

/// Everything a request reads.
pub struct App {
    pub ev: SharedIndex<u64, EvPayload>,
    pub incident: crate::incident::IncidentIndex,
    pub tenants: Tenants,
    /// Writes of one id take turns (a check of the window's organization
    /// and the write that follows it must see the same window).
    pub id_locks: Vec<parking_lot::Mutex<()>>,
    pub metrics: crate::metrics::Metrics,
    /// The log figures of each index in durable mode.
    pub ev_log: Option<LogFigures>,
    pub incident_log: Option<LogFigures>,
}

/// Reads a durable index's log figures.
pub type LogFigures = Box<dyn Fn() -> mwindex::LogStats + Send + Sync>;

impl App {
    /// The turn of writes to ids hashing like `id`.
    pub fn lock_for(&self, id: impl Into<u128>) -> parking_lot::MutexGuard<'_, ()> {
        let id: u128 = id.into();
        self.id_locks[((id ^ (id >> 64)) % ID_LOCKS as u128) as usize].lock()
    }
}

/// Stripes of [`App::id_locks`].
pub const ID_LOCKS: usize = 64;

/// Requests taking longer than this are answered 503.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request body accepted.
pub const MAX_BODY: usize = 1 << 20;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(crate::metrics::serve))
        .route("/openapi.json", get(crate::openapi::serve))
        .route("/api/maintenance-windows", get(ev_list))
        .route("/api/maintenance-windows/{id}", put(ev_put).delete(ev_delete))
        .route("/v1/maintenance_windows", get(crate::incident::list))
        .route("/v1/maintenance_windows/{id}", put(crate::incident::put).delete(crate::incident::delete))
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&app), crate::metrics::track))
        .layer(axum::middleware::from_fn(time_limit))
        .with_state(app)
}

/// The organization the request's bearer token acts for.
pub fn authenticate(app: &App, headers: &HeaderMap) -> Result<OrgId, ApiError> {
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

/// `GET /api/maintenance-windows`.
#[utoipa::path(
    get,
    path = "/api/maintenance-windows",
    tag = "EV charging",
    summary = "Maintenance windows of the key's organization and its descendants",
    description = "Windows in (startTimestamp, id) order, up to pageSize (default 50) a page; hasNextPage is true only when another window matches.",
    params(
        ("afterTimestamp" = Option<String>, Query, description = "RFC 3339; windows ending after it", format = DateTime, min_length = 1),
        ("beforeTimestamp" = Option<String>, Query, description = "RFC 3339; windows starting before it (after afterTimestamp)", format = DateTime, min_length = 1),
        ("chargerIds" = Option<Vec<u64>>, Query, description = "Any of these chargers (repeat the parameter; at most 500)"),
        ("siteIds" = Option<Vec<u64>>, Query, description = "Any of these sites (repeat the parameter; at most 500)"),
        ("organizationIds" = Option<Vec<u64>>, Query, description = "Any of these organizations, intersected with the key's (at most 500)"),
        ("nextPageCursor" = Option<String>, Query, description = "The cursor of the previous page", min_length = 1),
        ("status" = Option<crate::openapi::StatusParam>, Query, description = "Active, upcoming or past at the server's current time"),
        ("pageSize" = Option<u8>, Query, description = "1 to 50, default 50", minimum = 1, maximum = 50),
    ),
    responses(
        (status = 200, description = "A page", body = crate::openapi::EvPageSchema),
        (status = 400, description = "A bad parameter, named", body = crate::openapi::ErrorSchema),
        (status = 401, description = "No key, or an unknown one", body = crate::openapi::ErrorSchema),
    ),
    security(("bearer" = []))
)]
pub async fn ev_list(State(app): State<Arc<App>>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    match ev_list_inner(&app, &headers, raw.as_deref()) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => e.into_response(),
    }
}

fn ev_list_inner(app: &App, headers: &HeaderMap, raw: Option<&str>) -> Result<Vec<u8>, ApiError> {
    let org = authenticate(app, headers)?;
    let q = ev_query(org, raw)?;
    let page = app.ev.query(&q).map_err(|e| ApiError::from_engine(&e))?;
    ev_page_json(app, &page)
}

/// The query a request's parameters ask for, for a key of `org`.
pub fn ev_query(org: OrgId, raw: Option<&str>) -> Result<Query<u64>, ApiError> {
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
    // Every walk pins the version its first page read, for as long as
    // the pin policy allows: a page sequence sees one moment.
    q = q.consistent(true);
    if let Some(cursor) = p.single("nextPageCursor")? {
        q = q.cursor(cursor);
    }
    Ok(q)
}

/// A page as the EV-charging API's JSON.
pub fn ev_page_json(app: &App, page: &mwindex::OwnedPage<u64, EvPayload>) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(256 + page.items().len() * 768);
    out.extend_from_slice(b"{\"data\":[");
    for (k, e) in page.items().iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        EvItem::new(&e.window, &e.payload, app.tenants.name(e.window.org())).write_json(&mut out);
    }
    out.extend_from_slice(if page.has_next() {
        b"],\"pagination\":{\"hasNextPage\":true,\"nextPageCursor\":"
    } else {
        b"],\"pagination\":{\"hasNextPage\":false,\"nextPageCursor\":"
    });
    match page.next_cursor() {
        Some(c) => crate::model::put_str(&mut out, c),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b"}}");
    Ok(out)
}

/// The server's current time.
pub fn now() -> Timestamp {
    let micros = chrono::Utc::now().timestamp_micros();
    Timestamp::from_micros(micros).unwrap_or(Timestamp::MAX)
}

/// The body, read up to [`MAX_BODY`] bytes: 413 past it, at once when
/// the declared length says so.
pub async fn read_body(headers: &HeaderMap, body: axum::body::Body) -> Result<axum::body::Bytes, ApiError> {
    let too_large = || {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", format!("the body is larger than {MAX_BODY} bytes"))
    };
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| too_large())
}

/// Answers a request that takes longer than [`REQUEST_TIMEOUT`] with a 503.
async fn time_limit(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "timeout", "the request took too long").into_response()
        }
    }
}

pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()).into_response(),
    }
}

/// The window and record a `PUT` body describes for window `id`, written
/// at `now`; errors name the field.
///
/// # Example
///
/// ```
/// # use mwindex::Timestamp;
/// let body = br#"{"startTimestamp": "2026-01-01T00:00:00Z", "endTimestamp": "2026-01-01T02:00:00Z",
///   "userEmail": "a@b.c", "charger": {"id": 1, "name": "c", "networkServiceProvider": "n",
///   "chargerType": "AC", "numberOfPorts": 2}, "site": {"id": 2, "name": "s"},
///   "organization": {"id": 3}}"#;
/// let (window, record) = mwindex_server::app::ev_body(body, 7, Timestamp::from_secs(0)?)?;
/// assert_eq!((window.id(), window.org().0, record.user_email.as_str()), (7, 3, "a@b.c"));
/// assert!(mwindex_server::app::ev_body(b"{}", 7, Timestamp::from_secs(0)?).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn ev_body(bytes: &[u8], id: u64, now: Timestamp) -> Result<(mwindex::Window<u64>, EvPayload), ApiError> {
    let sent: crate::model::EvBody =
        serde_json::from_slice(bytes).map_err(|e| ApiError::body("body", e.to_string()))?;
    if sent.id.is_some_and(|given| given != id) {
        return Err(ApiError::body("id", "must equal the id in the path"));
    }
    sent.into_window(id, now).map_err(|(field, m)| ApiError::body(&field, m))
}

/// The window id of a path segment.
pub fn parse_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse::<u64>().map_err(|_| ApiError::parameter("id", format!("{raw:?} is not an integer id")))
}

/// `PUT /api/maintenance-windows/{id}`: creates (201) or replaces (200).
#[utoipa::path(
    put,
    path = "/api/maintenance-windows/{id}",
    tag = "EV charging",
    summary = "Create or replace a maintenance window",
    params(("id" = u64, Path, description = "The window's id")),
    request_body(content = crate::openapi::EvBodySchema, description = "An item of the list's shape; an `id` may be sent too, equal to the path's"),
    responses(
        (status = 200, description = "Replaced", body = crate::openapi::EvItemSchema),
        (status = 201, description = "Created", body = crate::openapi::EvItemSchema),
        (status = 400, description = "A bad body or id", body = crate::openapi::ErrorSchema),
        (status = 401, description = "No key, or an unknown one", body = crate::openapi::ErrorSchema),
        (status = 403, description = "An organization outside the key's", body = crate::openapi::ErrorSchema),
        (status = 413, description = "A body over 1 MiB", body = crate::openapi::ErrorSchema),
    ),
    security(("bearer" = []))
)]
pub async fn ev_put(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    body: axum::body::Body,
) -> Response {
    let result = async {
        let key = authenticate(&app, &headers)?;
        let id = parse_id(&raw)?;
        let bytes = read_body(&headers, body).await?;
        let (window, record) = ev_body(&bytes, id, now())?;
        if !app.tenants.within(window.org(), key) {
            return Err(ApiError::forbidden(format!("this key cannot write for organization {}", window.org())));
        }
        let ev = app.ev.clone();
        let app2 = Arc::clone(&app);
        // The write may wait for the disk: off the async workers.
        tokio::task::spawn_blocking(move || {
            let _turn = app2.lock_for(id);
            if let Some(old) = ev.get(id)
                && !app2.tenants.within(old.window.org(), key)
            {
                return Err(ApiError::forbidden(format!(
                    "window {id} belongs to an organization this key cannot write for"
                )));
            }
            let previous = ev.upsert(window, Arc::clone(&record)).map_err(|e| ApiError::from_write(&e))?;
            let status = if previous.is_some() { StatusCode::OK } else { StatusCode::CREATED };
            Ok(json_response(status, &EvItem::new(&window, &record, app2.tenants.name(window.org()))))
        })
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `DELETE /api/maintenance-windows/{id}`: 204, or 404 for an id the key
/// cannot see.
#[utoipa::path(
    delete,
    path = "/api/maintenance-windows/{id}",
    tag = "EV charging",
    summary = "Delete a maintenance window",
    params(("id" = u64, Path, description = "The window's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "A bad id", body = crate::openapi::ErrorSchema),
        (status = 401, description = "No key, or an unknown one", body = crate::openapi::ErrorSchema),
        (status = 404, description = "No window of that id the key can see", body = crate::openapi::ErrorSchema),
    ),
    security(("bearer" = []))
)]
pub async fn ev_delete(State(app): State<Arc<App>>, headers: HeaderMap, Path(raw): Path<String>) -> Response {
    let result = async {
        let key = authenticate(&app, &headers)?;
        let id = parse_id(&raw)?;
        let app2 = Arc::clone(&app);
        tokio::task::spawn_blocking(move || {
            let _turn = app2.lock_for(id);
            match app2.ev.get(id) {
                Some(old) if app2.tenants.within(old.window.org(), key) => {}
                _ => return Err(ApiError::not_found(&raw)),
            }
            app2.ev.apply(mwindex::Mutation::Delete(id)).map_err(|e| ApiError::from_write(&e))?;
            Ok(StatusCode::NO_CONTENT.into_response())
        })
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

//! The incident.io API: `GET /v1/maintenance_windows` (`status`,
//! `page_size` 1..50 default 25, `after` = the last id of the previous
//! page; id order), and `PUT`/`DELETE /v1/maintenance_windows/{id}`.
//! Items are kept as they were sent, ids are ULIDs.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mwindex::{Order, OrgId, Query, SharedIndex, Timestamp, Ulid, Window};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::app::{App, authenticate, json_response, now, read_body};
use crate::error::ApiError;
use crate::model::rfc3339;
use crate::params::Params;

/// A window as sent, less `organization_id` (which the index holds);
/// `id`, `start_at` and `end_at` in canonical form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IncidentRecord(pub Map<String, Value>);

impl mwindex::Persist for IncidentRecord {
    fn persist(&self, out: &mut Vec<u8>) {
        let _ = serde_json::to_writer(out, &self.0);
    }

    fn restore(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map(IncidentRecord).map_err(|e| e.to_string())
    }
}

pub type IncidentPayload = Arc<IncidentRecord>;
pub type IncidentIndex = SharedIndex<Ulid, IncidentPayload>;

/// The window and stored item of a sent object with id `id`; the
/// organization is `organization_id` if sent, else `default_org`. Errors
/// name the field.
pub fn parse_item(
    mut item: Map<String, Value>,
    id: Ulid,
    default_org: OrgId,
) -> Result<(Window<Ulid>, IncidentPayload), ApiError> {
    if let Some(sent) = item.get("id") {
        let same = sent.as_str().and_then(|s| s.parse::<Ulid>().ok()) == Some(id);
        if !same {
            return Err(ApiError::body("id", "must equal the id in the path"));
        }
    }
    let time = |item: &Map<String, Value>, field: &str| -> Result<Timestamp, ApiError> {
        let v = item.get(field).ok_or_else(|| ApiError::body(field, "is required"))?;
        let s = v.as_str().ok_or_else(|| ApiError::body(field, "must be an RFC 3339 string"))?;
        s.parse::<Timestamp>().map_err(|e| ApiError::body(field, e.to_string()))
    };
    let start = time(&item, "start_at")?;
    let end = time(&item, "end_at")?;
    let org = match item.remove("organization_id") {
        None => default_org,
        Some(v) => OrgId(v.as_u64().ok_or_else(|| ApiError::body("organization_id", "must be an integer"))?),
    };
    let window = Window::new(id, start, end, org).map_err(|e| ApiError::body("end_at", e.to_string()))?;
    item.insert("id".into(), Value::String(id.to_string()));
    item.insert("start_at".into(), Value::String(rfc3339(start)));
    item.insert("end_at".into(), Value::String(rfc3339(end)));
    Ok((window, Arc::new(IncidentRecord(item))))
}

const PARAMS: [&str; 3] = ["page_size", "after", "status"];

#[derive(Serialize)]
struct PaginationMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    after: Option<String>,
    page_size: usize,
}

#[derive(Serialize)]
struct ListBody<'a> {
    maintenance_windows: Vec<&'a Map<String, Value>>,
    pagination_meta: PaginationMeta,
}

/// `GET /v1/maintenance_windows`.
#[utoipa::path(
    get,
    path = "/v1/maintenance_windows",
    tag = "incident.io",
    summary = "Maintenance windows, in id order",
    params(
        ("page_size" = Option<u8>, Query, description = "1 to 50, default 25", minimum = 1, maximum = 50),
        ("after" = Option<String>, Query, description = "The id (ULID) of the last window of the previous page", pattern = "^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$"),
        ("status" = Option<crate::openapi::StatusParam>, Query, description = "active (start_at <= now < end_at), upcoming (now < start_at) or past (end_at <= now)"),
    ),
    responses(
        (status = 200, description = "A page", body = crate::openapi::IncidentPageSchema),
        (status = 400, description = "A bad parameter, named", body = crate::openapi::ErrorSchema),
        (status = 401, description = "No key, or an unknown one", body = crate::openapi::ErrorSchema),
    ),
    security(("bearer" = []))
)]
pub async fn list(State(app): State<Arc<App>>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let result = (|| {
        let key = authenticate(&app, &headers)?;
        let (q, size) = list_query(key, raw.as_deref(), now())?;
        let page = app.incident.query(&q).map_err(|e| ApiError::from_engine(&e))?;
        let after = page.has_next().then(|| page.items().last().map(|e| e.window.id().to_string())).flatten();
        let body = ListBody {
            maintenance_windows: page.items().iter().map(|e| &e.payload.0).collect(),
            pagination_meta: PaginationMeta { after, page_size: size },
        };
        Ok::<_, ApiError>(json_response(StatusCode::OK, &body))
    })();
    result.unwrap_or_else(IntoResponse::into_response)
}

/// The query a list request's parameters ask for, for a key of `key`, at
/// time `now`, and its page size.
///
/// # Example
///
/// ```
/// # use mwindex::{OrgId, Timestamp};
/// let (_, size) = mwindex_server::incident::list_query(OrgId(1), Some("page_size=10&status=active"), Timestamp::from_secs(0)?)?;
/// assert_eq!(size, 10);
/// assert!(mwindex_server::incident::list_query(OrgId(1), Some("page_size=51"), Timestamp::from_secs(0)?).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn list_query(key: OrgId, raw: Option<&str>, now: Timestamp) -> Result<(Query<Ulid>, usize), ApiError> {
    let p = Params::parse(raw, &PARAMS)?;
    let size = p.page_size("page_size", 25)?;
    let mut q = Query::new().scope(key).order(Order::Id).page_size(size);
    if let Some(after) = p.single("after")? {
        let id = after.parse::<Ulid>().map_err(|e| ApiError::parameter("after", e.to_string()))?;
        q = q.after_id(id);
    }
    if let Some(status) = p.status("status")? {
        q = q.status(status, now);
    }
    Ok((q, size))
}

/// The window and stored item a `PUT` body describes for window `id`, for
/// a key of `key`; errors name the field.
///
/// # Example
///
/// ```
/// # use mwindex::{OrgId, Ulid};
/// let id: Ulid = "01J0000000000000000000000A".parse()?;
/// let body = br#"{"start_at": "2026-01-01T00:00:00Z", "end_at": "2026-01-01T02:00:00Z", "name": "db"}"#;
/// let (window, item) = mwindex_server::incident::item_body(body, id, OrgId(4))?;
/// assert_eq!((window.org(), item.0["name"].as_str()), (OrgId(4), Some("db")));
/// assert!(mwindex_server::incident::item_body(b"[]", id, OrgId(4)).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn item_body(bytes: &[u8], id: Ulid, key: OrgId) -> Result<(Window<Ulid>, IncidentPayload), ApiError> {
    let item: Map<String, Value> = serde_json::from_slice(bytes).map_err(|e| ApiError::body("body", e.to_string()))?;
    parse_item(item, id, key)
}

/// The window id (a ULID) of a path segment.
pub fn parse_id(raw: &str) -> Result<Ulid, ApiError> {
    raw.parse::<Ulid>().map_err(|e| ApiError::parameter("id", e.to_string()))
}

/// `PUT /v1/maintenance_windows/{id}`.
#[utoipa::path(
    put,
    path = "/v1/maintenance_windows/{id}",
    tag = "incident.io",
    summary = "Create or replace a maintenance window, kept as sent",
    params(("id" = String, Path, description = "The window's id, a ULID", pattern = "^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$")),
    request_body(content = crate::openapi::IncidentBodySchema, description = "start_at and end_at required; `id` may be sent, equal to the path's; organization_id optional (default the key's); other fields are kept as sent"),
    responses(
        (status = 200, description = "Replaced", body = crate::openapi::IncidentItemSchema),
        (status = 201, description = "Created", body = crate::openapi::IncidentItemSchema),
        (status = 400, description = "A bad body or id", body = crate::openapi::ErrorSchema),
        (status = 401, description = "No key, or an unknown one", body = crate::openapi::ErrorSchema),
        (status = 403, description = "An organization outside the key's", body = crate::openapi::ErrorSchema),
        (status = 413, description = "A body over 1 MiB", body = crate::openapi::ErrorSchema),
    ),
    security(("bearer" = []))
)]
pub async fn put(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    body: axum::body::Body,
) -> Response {
    let result = async {
        let key = authenticate(&app, &headers)?;
        let id = parse_id(&raw)?;
        let bytes = read_body(&headers, body).await?;
        let (window, record) = item_body(&bytes, id, key)?;
        if !app.tenants.within(window.org(), key) {
            return Err(ApiError::forbidden(format!("this key cannot write for organization {}", window.org())));
        }
        let app2 = Arc::clone(&app);
        tokio::task::spawn_blocking(move || {
            let _turn = app2.lock_for(id.0);
            if let Some(old) = app2.incident.get(id)
                && !app2.tenants.within(old.window.org(), key)
            {
                return Err(ApiError::forbidden(format!(
                    "window {id} belongs to an organization this key cannot write for"
                )));
            }
            let previous = app2.incident.upsert(window, Arc::clone(&record)).map_err(|e| ApiError::from_write(&e))?;
            let status = if previous.is_some() { StatusCode::OK } else { StatusCode::CREATED };
            Ok(json_response(status, &record.0))
        })
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `DELETE /v1/maintenance_windows/{id}`.
#[utoipa::path(
    delete,
    path = "/v1/maintenance_windows/{id}",
    tag = "incident.io",
    summary = "Delete a maintenance window",
    params(("id" = String, Path, description = "The window's id, a ULID", pattern = "^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "A bad id", body = crate::openapi::ErrorSchema),
        (status = 401, description = "No key, or an unknown one", body = crate::openapi::ErrorSchema),
        (status = 404, description = "No window of that id the key can see", body = crate::openapi::ErrorSchema),
    ),
    security(("bearer" = []))
)]
pub async fn delete(State(app): State<Arc<App>>, headers: HeaderMap, Path(raw): Path<String>) -> Response {
    let result = async {
        let key = authenticate(&app, &headers)?;
        let id = parse_id(&raw)?;
        let app2 = Arc::clone(&app);
        tokio::task::spawn_blocking(move || {
            let _turn = app2.lock_for(id.0);
            match app2.incident.get(id) {
                Some(old) if app2.tenants.within(old.window.org(), key) => {}
                _ => return Err(ApiError::not_found(&raw)),
            }
            app2.incident.apply(mwindex::Mutation::Delete(id)).map_err(|e| ApiError::from_write(&e))?;
            Ok(StatusCode::NO_CONTENT.into_response())
        })
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

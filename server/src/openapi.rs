//! The OpenAPI 3.1 document of every route, generated from the handlers'
//! annotations and these schemas (utoipa), served at `/openapi.json`.

use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    info(title = "mwindex-server", description = "Maintenance windows: the EV-charging and incident.io APIs over an mwindex index."),
    paths(
        crate::app::ev_list,
        crate::app::ev_put,
        crate::app::ev_delete,
        crate::incident::list,
        crate::incident::put,
        crate::incident::delete,
    ),
    components(schemas(StatusParam)),
    modifiers(&Bearer),
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// `GET /openapi.json`.
pub async fn serve() -> impl IntoResponse {
    let body = ApiDoc::openapi().to_json().unwrap_or_else(|_| "{}".into());
    ([(header::CONTENT_TYPE, "application/json")], body)
}

/// `status`.
#[derive(ToSchema, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StatusParam {
    Active,
    Upcoming,
    Past,
}

impl From<StatusParam> for mwindex::Status {
    fn from(s: StatusParam) -> Self {
        match s {
            StatusParam::Active => mwindex::Status::Active,
            StatusParam::Upcoming => mwindex::Status::Upcoming,
            StatusParam::Past => mwindex::Status::Past,
        }
    }
}

/// An error answer.
#[derive(ToSchema, Serialize)]
pub struct ErrorSchema {
    error: ErrorDetail,
}

#[derive(ToSchema, Serialize)]
struct ErrorDetail {
    code: String,
    message: String,
    /// The parameter or body field at fault.
    parameter: Option<String>,
}

#[derive(ToSchema, Serialize)]
#[serde(rename_all = "camelCase")]
struct ChargerSchema {
    id: u64,
    name: String,
    manufacturer: Option<String>,
    model: Option<String>,
    network_service_provider: String,
    charger_type: String,
    serial_number: Option<String>,
    number_of_ports: u32,
    latitude: Option<f64>,
    longitude: Option<f64>,
    external_id: Option<String>,
    ocpp_id: Option<String>,
}

#[derive(ToSchema, Serialize)]
#[serde(rename_all = "camelCase")]
struct SiteSchema {
    id: u64,
    name: String,
    location_id: Option<String>,
}

#[derive(ToSchema, Serialize)]
struct OrganizationSchema {
    id: u64,
    name: String,
}

/// A maintenance window of the EV-charging API.
#[derive(ToSchema, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EvItemSchema {
    id: u64,
    #[schema(format = DateTime)]
    start_timestamp: String,
    #[schema(format = DateTime)]
    end_timestamp: String,
    comment: Option<String>,
    user_email: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    charger: ChargerSchema,
    site: SiteSchema,
    organization: OrganizationSchema,
}

#[derive(ToSchema, Serialize)]
struct OrganizationRef {
    id: u64,
    name: Option<String>,
}

/// A window as sent: the item's shape (an `id` equal to the path's may be
/// sent too); `createdAt` and `updatedAt` default to now.
#[derive(ToSchema, Serialize)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
pub struct EvBodySchema {
    #[schema(format = DateTime)]
    start_timestamp: String,
    #[schema(format = DateTime)]
    end_timestamp: String,
    comment: Option<String>,
    user_email: String,
    #[schema(format = DateTime)]
    created_at: Option<String>,
    #[schema(format = DateTime)]
    updated_at: Option<String>,
    charger: ChargerSchema,
    site: SiteSchema,
    organization: OrganizationRef,
}

#[derive(ToSchema, Serialize)]
#[serde(rename_all = "camelCase")]
struct PaginationSchema {
    has_next_page: bool,
    next_page_cursor: Option<String>,
}

/// A page of the EV-charging API.
#[derive(ToSchema, Serialize)]
pub struct EvPageSchema {
    data: Vec<EvItemSchema>,
    pagination: PaginationSchema,
}

/// A window of the incident.io API, as sent (other fields kept).
#[derive(ToSchema, Serialize)]
pub struct IncidentItemSchema {
    /// A ULID.
    id: Option<String>,
    #[schema(format = DateTime)]
    start_at: String,
    #[schema(format = DateTime)]
    end_at: String,
    name: Option<String>,
}

#[derive(ToSchema, Serialize)]
struct PaginationMetaSchema {
    /// Present only when more windows follow.
    after: Option<String>,
    page_size: u8,
}

/// A window as sent to the incident.io API: `start_at` and `end_at`
/// required, `organization_id` optional; other fields kept as sent.
#[derive(ToSchema, Serialize)]
pub struct IncidentBodySchema {
    #[schema(format = DateTime)]
    start_at: String,
    #[schema(format = DateTime)]
    end_at: String,
    organization_id: Option<u64>,
    name: Option<String>,
}

/// A page of the incident.io API.
#[derive(ToSchema, Serialize)]
pub struct IncidentPageSchema {
    maintenance_windows: Vec<IncidentItemSchema>,
    pagination_meta: PaginationMetaSchema,
}

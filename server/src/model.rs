//! The EV-charging API's window, as stored (the payload beside each window
//! in the index) and as answered.

use std::sync::Arc;

use mwindex::{ChargerId, OrgId, SiteId, Timestamp, Window};
use serde::{Deserialize, Serialize};

/// A charger, as the API describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Charger {
    pub id: u64,
    pub name: String,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub network_service_provider: String,
    pub charger_type: String,
    pub serial_number: Option<String>,
    pub number_of_ports: u32,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub external_id: Option<String>,
    pub ocpp_id: Option<String>,
}

/// A site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Site {
    pub id: u64,
    pub name: String,
    pub location_id: Option<String>,
}

/// What the index keeps beside a window: everything of the item but the
/// id, times and organization, which the window holds.
#[derive(Debug, Clone, PartialEq)]
pub struct EvRecord {
    pub comment: Option<String>,
    pub user_email: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub charger: Charger,
    pub site: Site,
}

/// The payload type of the EV index.
pub type EvPayload = Arc<EvRecord>;

/// An item of a response.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EvItem<'a> {
    pub id: u64,
    pub start_timestamp: String,
    pub end_timestamp: String,
    pub comment: Option<&'a str>,
    pub user_email: &'a str,
    pub created_at: String,
    pub updated_at: String,
    pub charger: &'a Charger,
    pub site: &'a Site,
    pub organization: OrgRef<'a>,
}

#[derive(Serialize)]
pub struct OrgRef<'a> {
    pub id: u64,
    pub name: &'a str,
}

/// RFC 3339 in UTC with a `Z` and microseconds.
pub fn rfc3339(t: Timestamp) -> String {
    t.to_datetime().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

impl<'a> EvItem<'a> {
    pub fn new(window: &Window<u64>, record: &'a EvRecord, org_name: &'a str) -> Self {
        EvItem {
            id: window.id(),
            start_timestamp: rfc3339(window.start()),
            end_timestamp: rfc3339(window.end()),
            comment: record.comment.as_deref(),
            user_email: &record.user_email,
            created_at: rfc3339(record.created_at),
            updated_at: rfc3339(record.updated_at),
            charger: &record.charger,
            site: &record.site,
            organization: OrgRef { id: window.org().0, name: org_name },
        }
    }
}

/// The window of a record: its charger and site, in `org`.
pub fn window_of(
    id: u64,
    start: Timestamp,
    end: Timestamp,
    org: OrgId,
    record: &EvRecord,
) -> Result<Window<u64>, mwindex::Error> {
    Ok(Window::new(id, start, end, org)?.with_charger(ChargerId(record.charger.id)).with_site(SiteId(record.site.id)))
}

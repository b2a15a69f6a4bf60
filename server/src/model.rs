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
/// id, times and organization, which the window holds. Written to the
/// durable index's log and snapshots as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    pub start_timestamp: Rfc3339,
    pub end_timestamp: Rfc3339,
    pub comment: Option<&'a str>,
    pub user_email: &'a str,
    pub created_at: Rfc3339,
    pub updated_at: Rfc3339,
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
    let buf = rfc3339_bytes(t);
    String::from_utf8_lossy(&buf).into_owned()
}

/// [`rfc3339`] into 27 bytes on the stack (a page formats four a window;
/// `chrono`'s format strings took a third of a page's time). Years run
/// 0000 to 9999, the range of [`Timestamp`].
pub fn rfc3339_bytes(t: Timestamp) -> [u8; 27] {
    let micros = t.as_micros();
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Days to a civil date (Howard Hinnant's `civil_from_days`).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |at: usize, width: usize, mut v: i64| {
        for k in (0..width).rev() {
            out[at + k] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, rem / 3_600);
    put(14, 2, rem % 3_600 / 60);
    put(17, 2, rem % 60);
    put(20, 6, frac);
    out
}

/// A timestamp that serializes as [`rfc3339`] without allocating.
#[derive(Clone, Copy, Debug)]
pub struct Rfc3339(pub Timestamp);

impl Serialize for Rfc3339 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let buf = rfc3339_bytes(self.0);
        s.serialize_str(std::str::from_utf8(&buf).unwrap_or(""))
    }
}

impl<'a> EvItem<'a> {
    pub fn new(window: &Window<u64>, record: &'a EvRecord, org_name: &'a str) -> Self {
        EvItem {
            id: window.id(),
            start_timestamp: Rfc3339(window.start()),
            end_timestamp: Rfc3339(window.end()),
            comment: record.comment.as_deref(),
            user_email: &record.user_email,
            created_at: Rfc3339(record.created_at),
            updated_at: Rfc3339(record.updated_at),
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

impl mwindex::Persist for EvRecord {
    fn persist(&self, out: &mut Vec<u8>) {
        // Serializing plain data to a vector cannot fail.
        let _ = serde_json::to_writer(out, self);
    }

    fn restore(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }
}

/// An item as a client sends it (`PUT`, `--import`): the response's shape,
/// with `id` optional on `PUT` (the path names it) and the timestamps in
/// any RFC 3339 form. `createdAt` and `updatedAt` default to now.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EvBody {
    pub id: Option<u64>,
    pub start_timestamp: String,
    pub end_timestamp: String,
    #[serde(default)]
    pub comment: Option<String>,
    pub user_email: String,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub charger: Charger,
    pub site: Site,
    pub organization: OrgBody,
}

/// The organization of a sent item: its id (a name sent along is ignored:
/// the name is the tenant's).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgBody {
    pub id: u64,
    #[serde(default, rename = "name")]
    _name: Option<serde::de::IgnoredAny>,
}

impl EvBody {
    /// The window and record this item stands for, with id `id`; `now`
    /// for absent creation and update times. Errors name the field.
    pub fn into_window(self, id: u64, now: Timestamp) -> Result<(Window<u64>, EvPayload), (String, String)> {
        let time = |field: &str, v: &str| v.parse::<Timestamp>().map_err(|e| (field.to_string(), e.to_string()));
        let start = time("startTimestamp", &self.start_timestamp)?;
        let end = time("endTimestamp", &self.end_timestamp)?;
        let created_at = self.created_at.as_deref().map(|v| time("createdAt", v)).transpose()?.unwrap_or(now);
        let updated_at = self.updated_at.as_deref().map(|v| time("updatedAt", v)).transpose()?.unwrap_or(now);
        if self.user_email.is_empty() {
            return Err(("userEmail".into(), "must not be empty".into()));
        }
        let record = EvRecord {
            comment: self.comment,
            user_email: self.user_email,
            created_at,
            updated_at,
            charger: self.charger,
            site: self.site,
        };
        let window = window_of(id, start, end, OrgId(self.organization.id), &record)
            .map_err(|e| ("endTimestamp".to_string(), e.to_string()))?;
        Ok((window, Arc::new(record)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_agrees_with_chrono() {
        let mut x = 0x1234_5678_9abc_def0u64;
        let (lo, hi) = (Timestamp::MIN.as_micros(), Timestamp::MAX.as_micros());
        let mut cases = vec![lo, hi, 0, -1, 1, 951_782_400_000_000, 4_107_542_399_999_999];
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push(lo + (x % (hi - lo) as u64) as i64);
        }
        for m in cases {
            let t = Timestamp::from_micros(m).expect("in range");
            let want = t.to_datetime().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
            assert_eq!(rfc3339(t), want, "{m}");
        }
    }
}

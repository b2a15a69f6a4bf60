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
    // Two digits at a time: `v` in 0..100.
    let mut pair = |at: usize, v: i64| {
        let v = v as usize * 2;
        out[at..at + 2].copy_from_slice(&DIGIT_PAIRS[v..v + 2]);
    };
    pair(0, year / 100);
    pair(2, year % 100);
    pair(5, month);
    pair(8, day);
    pair(11, rem / 3_600);
    pair(14, rem % 3_600 / 60);
    pair(17, rem % 60);
    pair(20, frac / 10_000);
    pair(22, frac / 100 % 100);
    pair(24, frac % 100);
    out
}

/// "00" to "99", back to back.
const DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Appends `s` as a JSON string: copied as is when nothing in it needs
/// escaping (almost always), else escaped as serde_json escapes.
pub fn put_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

fn put_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => put_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

fn put_opt_f64(out: &mut Vec<u8>, v: Option<f64>) {
    match v {
        Some(v) => {
            let _ = serde_json::to_writer(&mut *out, &v);
        }
        None => out.extend_from_slice(b"null"),
    }
}

fn put_time(out: &mut Vec<u8>, t: Timestamp) {
    out.push(b'"');
    out.extend_from_slice(&rfc3339_bytes(t));
    out.push(b'"');
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

impl EvItem<'_> {
    /// Appends the item as JSON, byte for byte what its `Serialize` writes,
    /// without serde's per-key escaping (JSON was 88% of a 50-item page).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"id\":");
        put_u64(out, self.id);
        out.extend_from_slice(b",\"startTimestamp\":");
        put_time(out, self.start_timestamp.0);
        out.extend_from_slice(b",\"endTimestamp\":");
        put_time(out, self.end_timestamp.0);
        out.extend_from_slice(b",\"comment\":");
        put_opt_str(out, self.comment);
        out.extend_from_slice(b",\"userEmail\":");
        put_str(out, self.user_email);
        out.extend_from_slice(b",\"createdAt\":");
        put_time(out, self.created_at.0);
        out.extend_from_slice(b",\"updatedAt\":");
        put_time(out, self.updated_at.0);
        let c = self.charger;
        out.extend_from_slice(b",\"charger\":{\"id\":");
        put_u64(out, c.id);
        out.extend_from_slice(b",\"name\":");
        put_str(out, &c.name);
        out.extend_from_slice(b",\"manufacturer\":");
        put_opt_str(out, c.manufacturer.as_deref());
        out.extend_from_slice(b",\"model\":");
        put_opt_str(out, c.model.as_deref());
        out.extend_from_slice(b",\"networkServiceProvider\":");
        put_str(out, &c.network_service_provider);
        out.extend_from_slice(b",\"chargerType\":");
        put_str(out, &c.charger_type);
        out.extend_from_slice(b",\"serialNumber\":");
        put_opt_str(out, c.serial_number.as_deref());
        out.extend_from_slice(b",\"numberOfPorts\":");
        put_u64(out, u64::from(c.number_of_ports));
        out.extend_from_slice(b",\"latitude\":");
        put_opt_f64(out, c.latitude);
        out.extend_from_slice(b",\"longitude\":");
        put_opt_f64(out, c.longitude);
        out.extend_from_slice(b",\"externalId\":");
        put_opt_str(out, c.external_id.as_deref());
        out.extend_from_slice(b",\"ocppId\":");
        put_opt_str(out, c.ocpp_id.as_deref());
        let site = self.site;
        out.extend_from_slice(b"},\"site\":{\"id\":");
        put_u64(out, site.id);
        out.extend_from_slice(b",\"name\":");
        put_str(out, &site.name);
        out.extend_from_slice(b",\"locationId\":");
        put_opt_str(out, site.location_id.as_deref());
        out.extend_from_slice(b"},\"organization\":{\"id\":");
        put_u64(out, self.organization.id);
        out.extend_from_slice(b",\"name\":");
        put_str(out, self.organization.name);
        out.extend_from_slice(b"}}");
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
    fn hand_written_items_equal_serde_json() {
        let charger = Charger {
            id: 7,
            name: "Bay \"north\" \\ 1\n".into(),
            manufacturer: None,
            model: Some("Terra ✓".into()),
            network_service_provider: "Hubject".into(),
            charger_type: "DC".into(),
            serial_number: None,
            number_of_ports: 2,
            latitude: Some(45.0),
            longitude: Some(-1.25),
            external_id: None,
            ocpp_id: Some("\u{1}x".into()),
        };
        let site = Site { id: 3, name: "Depot".into(), location_id: None };
        let t = |m: i64| Timestamp::from_micros(m).expect("t");
        let record = EvRecord {
            comment: None,
            user_email: "a@b.example".into(),
            created_at: t(1),
            updated_at: t(-62_000_000_000_000_000),
            charger,
            site,
        };
        let w = window_of(u64::MAX, t(0), t(5), OrgId(9), &record).expect("w");
        let item = EvItem::new(&w, &record, "Org \"9\"");
        let mut mine = Vec::new();
        item.write_json(&mut mine);
        assert_eq!(String::from_utf8(mine).expect("utf-8"), serde_json::to_string(&item).expect("json"));
    }

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

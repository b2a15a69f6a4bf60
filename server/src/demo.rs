//! The embedded demo: a generated fleet of chargers and sites under a
//! parent/child organization tree, with maintenance windows that look
//! real (names, comments, emails), and the API keys to query it.

use std::sync::Arc;

use mwindex::{OrgId, Timestamp, Ulid, Window};

use crate::incident::{IncidentPayload, IncidentRecord};
use crate::model::{Charger, EvPayload, EvRecord, Site, rfc3339, window_of};
use crate::tenants::{ApiKey, Organization, TenantsFile};

/// SplitMix64, seeded: the same demo every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const ROOTS: [(&str, &str, &[&str]); 3] = [
    ("Voltway Energy", "voltway.example", &["Voltway North", "Voltway South", "Voltway Fleet Services"]),
    ("ChargeHub", "chargehub.example", &["ChargeHub Retail", "ChargeHub Highways"]),
    ("City of Lyon Mobility", "lyon-mobility.example", &["Lyon Bus Depots"]),
];

const FIRST: [&str; 12] =
    ["amelie", "jonas", "priya", "marco", "sofia", "liam", "noor", "kenji", "elena", "tom", "fatima", "lucas"];
const LAST: [&str; 10] =
    ["martin", "schmidt", "patel", "rossi", "garcia", "nguyen", "okafor", "dubois", "kowalski", "berg"];
const COMMENTS: [&str; 10] = [
    "Firmware update to 2.4.1",
    "Replace damaged CCS cable",
    "Quarterly safety inspection",
    "Cooling fan replacement",
    "RFID reader swap",
    "Grid operator works on the site transformer",
    "Display replacement after vandalism",
    "OCPP backend migration",
    "Annual calibration of the energy meter",
    "Parking lot resurfacing",
];
const MAKERS: [(&str, &str); 5] = [
    ("ABB", "Terra 184"),
    ("Alpitronic", "HYC300"),
    ("Wallbox", "Supernova"),
    ("Kempower", "S-Series"),
    ("Tritium", "PKM150"),
];
const CITIES: [&str; 10] =
    ["Lyon", "Hamburg", "Utrecht", "Bologna", "Gdansk", "Ghent", "Bilbao", "Aarhus", "Graz", "Nantes"];
const PLACES: [&str; 8] =
    ["Central Station", "Harbour", "Retail Park", "Airport P4", "Ring Road", "Depot", "Old Town", "Business Park"];

/// The demo's tenants and windows.
pub struct Demo {
    pub tenants: TenantsFile,
    pub windows: Vec<(Window<u64>, EvPayload)>,
    /// incident.io-style windows, a tenth as many.
    pub incidents: Vec<(Window<Ulid>, IncidentPayload)>,
}

const INCIDENT_NAMES: [&str; 6] = [
    "Planned database migration",
    "Payment provider maintenance",
    "OCPP gateway upgrade",
    "Roaming hub certificate rotation",
    "Backend region failover drill",
    "Billing run freeze",
];

/// `n` windows from `seed`, starting around `now`.
pub fn generate(n: usize, seed: u64, now: Timestamp) -> Demo {
    let mut rng = Rng(seed);
    let mut organizations = Vec::new();
    let mut api_keys = Vec::new();
    let mut leaves = Vec::new();
    let mut id = 1u64;
    for (root, domain, children) in ROOTS {
        let root_id = id;
        organizations.push(Organization { id: root_id, name: root.to_string(), parent_id: None });
        let slug = root.split_whitespace().next().unwrap_or("org").to_lowercase();
        api_keys.push(ApiKey { token: format!("demo-{slug}-parent"), organization_id: root_id });
        id += 1;
        for (k, child) in children.iter().enumerate() {
            organizations.push(Organization { id, name: child.to_string(), parent_id: Some(root_id) });
            api_keys.push(ApiKey { token: format!("demo-{slug}-child-{}", k + 1), organization_id: id });
            leaves.push((id, domain));
            id += 1;
        }
    }
    let sites: Vec<(Site, u64, &str)> = (0..(n / 150).max(20))
        .map(|s| {
            let (org, domain) = leaves[rng.below(leaves.len())];
            let name = format!("{} {}", rng.pick(&CITIES), rng.pick(&PLACES));
            let location = (rng.below(4) != 0).then(|| format!("LOC-{:05}", 10_000 + s));
            (Site { id: 100 + s as u64, name, location_id: location }, org, domain)
        })
        .collect();
    let chargers: Vec<(Charger, usize)> = (0..(n / 15).max(50))
        .map(|c| {
            let site = rng.below(sites.len());
            let (maker, model) = MAKERS[rng.below(MAKERS.len())];
            let known = rng.below(10) != 0;
            let dc = rng.below(3) != 0;
            let charger = Charger {
                id: 10_000 + c as u64,
                name: format!("{} #{}", sites[site].0.name, 1 + rng.below(12)),
                manufacturer: known.then(|| maker.to_string()),
                model: known.then(|| model.to_string()),
                network_service_provider: ["Hubject", "Gireve", "e-clearing.net"][rng.below(3)].to_string(),
                charger_type: if dc { "DC" } else { "AC" }.to_string(),
                serial_number: known.then(|| format!("SN{:08}", rng.next() % 100_000_000)),
                number_of_ports: 1 + rng.below(4) as u32,
                latitude: known.then(|| 43.0 + (rng.next() % 10_000) as f64 / 1_000.0),
                longitude: known.then(|| -2.0 + (rng.next() % 20_000) as f64 / 1_000.0),
                external_id: (rng.below(2) == 0).then(|| format!("EXT-{}", 500_000 + c)),
                ocpp_id: Some(format!("CP{:06}", c)),
            };
            (charger, site)
        })
        .collect();
    let hour = 3_600_000_000i64;
    let day = 24 * hour;
    let windows = (0..n)
        .map(|k| {
            let (charger, site) = &chargers[rng.below(chargers.len())];
            let (site, org, domain) = &sites[*site];
            let start = now.as_micros() - 365 * day + (rng.next() % (730 * day) as u64) as i64;
            let start = start / 60_000_000 * 60_000_000;
            let len = match rng.below(100) {
                0..=84 => hour + (rng.next() % (7 * hour) as u64) as i64,
                85..=98 => day + (rng.next() % (6 * day) as u64) as i64,
                _ => 30 * day + (rng.next() % (60 * day) as u64) as i64,
            };
            let created = start - (1 + rng.below(30)) as i64 * day;
            let updated = created + (rng.next() % (2 * day) as u64) as i64;
            let t = |m: i64| Timestamp::from_micros(m).unwrap_or(Timestamp::MIN);
            let record = EvRecord {
                comment: (rng.below(5) != 0).then(|| rng.pick(&COMMENTS).to_string()),
                user_email: format!("{}.{}@{domain}", rng.pick(&FIRST), rng.pick(&LAST)),
                created_at: t(created),
                updated_at: t(updated),
                charger: charger.clone(),
                site: site.clone(),
            };
            let window = window_of(1 + k as u64, t(start), t(start + len), OrgId(*org), &record)
                .unwrap_or_else(|_| unreachable!("generated windows have positive length"));
            (window, Arc::new(record))
        })
        .collect();
    let incidents = (0..(n / 10).max(10))
        .map(|_| {
            let (org, _) = leaves[rng.below(leaves.len())];
            let start = now.as_micros() - 60 * day + (rng.next() % (120 * day) as u64) as i64;
            let start = start / 60_000_000 * 60_000_000;
            let end = start + hour * (1 + rng.below(6)) as i64;
            let created = start - (1 + rng.below(20)) as i64 * day;
            // A ULID: the creation time in milliseconds, then 80 random bits.
            let id = Ulid(
                (u128::from((created / 1_000) as u64) << 80)
                    | (u128::from(rng.next()) << 16)
                    | u128::from(rng.next() as u16),
            );
            let t = |m: i64| rfc3339(Timestamp::from_micros(m).unwrap_or(Timestamp::MIN));
            let name = rng.pick(&INCIDENT_NAMES);
            let item = serde_json::json!({
                "id": id.to_string(),
                "name": name,
                "notification_message": format!("Scheduled: {name}"),
                "start_at": t(start),
                "end_at": t(end),
                "created_at": t(created),
                "updated_at": t(created),
                "notify_start_minutes_before": 15,
                "notify_end_minutes_before": 5,
                "reroute_on_end": false,
                "resolve_on_end": false,
                "show_in_sidebar": true,
            });
            let serde_json::Value::Object(map) = item else { unreachable!("a JSON object literal") };
            let window = Window::new(
                id,
                Timestamp::from_micros(start).unwrap_or(Timestamp::MIN),
                Timestamp::from_micros(end).unwrap_or(Timestamp::MAX),
                OrgId(org),
            )
            .unwrap_or_else(|_| unreachable!("generated windows have positive length"));
            (window, Arc::new(IncidentRecord(map)))
        })
        .collect();
    Demo { tenants: TenantsFile { organizations, api_keys }, windows, incidents }
}

//! `--import FILE`: JSON Lines of EV items, all or nothing.
//!
//! Every line is parsed and checked first (the item shape with its id, an
//! organization of the tenants, no id twice in the file nor already in the
//! index); a bad line stops the import with its number and the reason, and
//! nothing of the file is loaded. Then all windows go in with one bulk
//! insert (one sort, one build; in durable mode one log record, or a
//! snapshot when larger than a record).

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use mwindex::{SharedIndex, Window};

use crate::model::{EvBody, EvPayload};
use crate::tenants::Tenants;

/// Reads `path` into `index`; the number of windows imported.
pub fn import(
    path: &Path,
    index: &SharedIndex<u64, EvPayload>,
    tenants: &Tenants,
    now: mwindex::Timestamp,
) -> Result<usize, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(format!("importing {}", path.display()));
    let mut windows: Vec<(Window<u64>, EvPayload)> = Vec::new();
    let mut lines_of: HashMap<u64, usize> = HashMap::new();
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    for (k, line) in reader.lines().enumerate() {
        let n = k + 1;
        let line = line.map_err(|e| format!("{}: line {n}: {e}", path.display()))?;
        bar.inc(line.len() as u64 + 1);
        if line.trim().is_empty() {
            continue;
        }
        let fail = |why: String| format!("{}: line {n}: {why}; nothing was imported", path.display());
        let body: EvBody = serde_json::from_str(&line).map_err(|e| fail(e.to_string()))?;
        let id = body.id.ok_or_else(|| fail("`id` is missing".into()))?;
        let (window, record) = body.into_window(id, now).map_err(|(field, why)| fail(format!("{field}: {why}")))?;
        if !tenants.knows(window.org()) {
            return Err(fail(format!("organization {} is not in the tenants", window.org())));
        }
        if let Some(first) = lines_of.insert(id, n) {
            return Err(fail(format!("id {id} was already on line {first}")));
        }
        if index.get(id).is_some() {
            return Err(fail(format!("id {id} is already in the index")));
        }
        windows.push((window, record));
    }
    bar.finish_and_clear();
    let n = windows.len();
    index.bulk_insert(windows).map_err(|e| format!("{}: {e}; nothing was imported", path.display()))?;
    Ok(n)
}

/// Reads incident.io items (each with an `organization_id`) from `path`
/// into `index`, all or nothing; the number imported.
pub fn import_incident(
    path: &Path,
    index: &crate::incident::IncidentIndex,
    tenants: &Tenants,
) -> Result<usize, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut windows = Vec::new();
    let mut lines_of: HashMap<mwindex::Ulid, usize> = HashMap::new();
    for (k, line) in text.lines().enumerate() {
        let n = k + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fail = |why: String| format!("{}: line {n}: {why}; nothing was imported", path.display());
        let item: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(line).map_err(|e| fail(e.to_string()))?;
        let id = item
            .get("id")
            .and_then(|v| v.as_str())
            .ok_or_else(|| fail("`id` is missing".into()))?
            .parse::<mwindex::Ulid>()
            .map_err(|e| fail(format!("id: {e}")))?;
        if !item.contains_key("organization_id") {
            return Err(fail("`organization_id` is missing".into()));
        }
        let (window, record) = crate::incident::parse_item(item, id, mwindex::OrgId(0)).map_err(|e| fail(e.message))?;
        if !tenants.knows(window.org()) {
            return Err(fail(format!("organization {} is not in the tenants", window.org())));
        }
        if let Some(first) = lines_of.insert(id, n) {
            return Err(fail(format!("id {id} was already on line {first}")));
        }
        if index.get(id).is_some() {
            return Err(fail(format!("id {id} is already in the index")));
        }
        windows.push((window, record));
    }
    let n = windows.len();
    index.bulk_insert(windows).map_err(|e| format!("{}: {e}; nothing was imported", path.display()))?;
    Ok(n)
}

//! Tenants: the organization tree with names, and the API keys, each acting
//! for one organization and all its descendants.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use mwindex::OrgId;
use serde::Deserialize;

/// The tenants file: `{"organizations":[{"id":1,"name":"Acme","parentId":null}],
/// "apiKeys":[{"token":"...","organizationId":1}]}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantsFile {
    pub organizations: Vec<Organization>,
    pub api_keys: Vec<ApiKey>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Organization {
    pub id: u64,
    pub name: String,
    pub parent_id: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiKey {
    pub token: String,
    pub organization_id: u64,
}

/// The checked tenants.
#[derive(Debug, Clone)]
pub struct Tenants {
    names: HashMap<u64, String>,
    parents: HashMap<u64, Option<u64>>,
    /// Organizations in an order where parents come first.
    order: Vec<(OrgId, Option<OrgId>)>,
    keys: Vec<(Vec<u8>, OrgId)>,
}

impl Tenants {
    /// Reads and checks a tenants file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file: TenantsFile = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Tenants::new(file).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Checks tenants: ids unique, parents known, no cycle, tokens unique,
    /// non-empty and naming a known organization.
    pub fn new(file: TenantsFile) -> Result<Self, String> {
        let mut names = HashMap::new();
        let mut parents = HashMap::new();
        for o in &file.organizations {
            if names.insert(o.id, o.name.clone()).is_some() {
                return Err(format!("organization {} appears twice", o.id));
            }
            parents.insert(o.id, o.parent_id);
        }
        for o in &file.organizations {
            if let Some(p) = o.parent_id
                && !names.contains_key(&p)
            {
                return Err(format!("organization {} has unknown parent {p}", o.id));
            }
        }
        // Parents first; a cycle leaves organizations unplaced.
        let mut order = Vec::with_capacity(file.organizations.len());
        let mut placed = HashSet::new();
        let mut pending: Vec<&Organization> = file.organizations.iter().collect();
        while !pending.is_empty() {
            let before = pending.len();
            pending.retain(|o| {
                if o.parent_id.is_none_or(|p| placed.contains(&p)) {
                    placed.insert(o.id);
                    order.push((OrgId(o.id), o.parent_id.map(OrgId)));
                    false
                } else {
                    true
                }
            });
            if pending.len() == before {
                return Err(format!("organization {} is in a parent cycle", pending[0].id));
            }
        }
        let mut tokens = HashSet::new();
        let mut keys = Vec::new();
        for k in &file.api_keys {
            if k.token.is_empty() {
                return Err("an API key has an empty token".into());
            }
            if !tokens.insert(k.token.clone()) {
                return Err("an API key token appears twice".into());
            }
            if !names.contains_key(&k.organization_id) {
                return Err(format!("an API key names unknown organization {}", k.organization_id));
            }
            keys.push((k.token.as_bytes().to_vec(), OrgId(k.organization_id)));
        }
        Ok(Tenants { names, parents, order, keys })
    }

    /// The organizations, parents first, for the index builder.
    pub fn organizations(&self) -> &[(OrgId, Option<OrgId>)] {
        &self.order
    }

    /// The organization `token` acts for. Every key is compared, each in
    /// time independent of where the bytes differ, so the time taken does
    /// not tell which key (or how much of one) matched.
    pub fn authenticate(&self, token: &[u8]) -> Option<OrgId> {
        let mut found = None;
        for (key, org) in &self.keys {
            if constant_time_eq(key, token) {
                found = Some(*org);
            }
        }
        found
    }

    /// The organization's name.
    pub fn name(&self, org: OrgId) -> &str {
        self.names.get(&org.0).map_or("", String::as_str)
    }
}

impl Tenants {
    /// Whether the organization is one of the tenants'.
    pub fn knows(&self, org: OrgId) -> bool {
        self.names.contains_key(&org.0)
    }

    /// Whether `org` is `root` or one of its descendants (an unknown
    /// organization is within nothing).
    pub fn within(&self, org: OrgId, root: OrgId) -> bool {
        let mut cur = self.parents.contains_key(&org.0).then_some(org.0);
        // The tree has no cycle (checked), so the walk ends at a root.
        while let Some(o) = cur {
            if o == root.0 {
                return true;
            }
            cur = self.parents.get(&o).copied().flatten();
        }
        false
    }
}

/// Equality in time that depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(json: &str) -> Result<Tenants, String> {
        Tenants::new(serde_json::from_str(json).map_err(|e| e.to_string())?)
    }

    #[test]
    fn keys_act_for_their_subtree() {
        let t = file(
            r#"{"organizations":[{"id":2,"name":"West","parentId":1},{"id":1,"name":"Acme","parentId":null},{"id":3,"name":"Other","parentId":null}],
                "apiKeys":[{"token":"k1","organizationId":1},{"token":"k3","organizationId":3}]}"#,
        )
        .expect("valid");
        assert_eq!(t.authenticate(b"k1"), Some(OrgId(1)));
        assert_eq!(t.authenticate(b"k"), None);
        assert_eq!(t.authenticate(b"k11"), None);
        assert_eq!(t.organizations()[0].0, OrgId(1));
        assert!(t.within(OrgId(2), OrgId(1)));
        assert!(!t.within(OrgId(3), OrgId(1)));
        assert!(!t.within(OrgId(9), OrgId(1)));
    }

    #[test]
    fn bad_files_are_refused() {
        let cycle =
            r#"{"organizations":[{"id":1,"name":"a","parentId":2},{"id":2,"name":"b","parentId":1}],"apiKeys":[]}"#;
        assert!(file(cycle).unwrap_err().contains("cycle"));
        let dup = r#"{"organizations":[{"id":1,"name":"a","parentId":null}],"apiKeys":[{"token":"x","organizationId":1},{"token":"x","organizationId":1}]}"#;
        assert!(file(dup).unwrap_err().contains("twice"));
        let unknown = r#"{"organizations":[],"apiKeys":[{"token":"x","organizationId":9}]}"#;
        assert!(file(unknown).unwrap_err().contains("unknown"));
    }
}

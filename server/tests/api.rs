//! The real binary on a free loopback port, over HTTP: auth, every
//! parameter and error of `GET /api/maintenance-windows`, paging, and
//! isolation between tenants.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the demo with `windows` windows on a free port.
fn start(windows: usize) -> Server {
    start_with(&["--demo-windows", &windows.to_string()])
}

/// Starts the server with `args` on a free port.
fn start_with(args: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mwindex-server"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout);
    let mut first = String::new();
    reader.read_line(&mut first).expect("the listening line");
    // Keep reading what it prints, so it never writes to a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let base = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_string();
    Server { child, base }
}

fn get(s: &Server, key: Option<&str>, path: &str) -> (u16, Value) {
    let client = reqwest::blocking::Client::new();
    let mut req = client.get(format!("{}{path}", s.base));
    if let Some(k) = key {
        req = req.header("Authorization", format!("Bearer {k}"));
    }
    let resp = req.send().expect("request");
    let status = resp.status().as_u16();
    let body: Value = resp.json().unwrap_or(Value::Null);
    (status, body)
}

const PARENT: &str = "demo-voltway-parent";
const CHILD: &str = "demo-voltway-child-1";
const OTHER: &str = "demo-chargehub-parent";
/// The Voltway tree's organizations in the demo: 1 and its children 2..=4.
const VOLTWAY: [u64; 4] = [1, 2, 3, 4];

/// Every page of a query, checked as it goes: all pages but the last full.
fn walk(s: &Server, key: &str, query: &str, size: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/maintenance-windows?pageSize={size}{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&nextPageCursor={c}"));
        }
        let (status, body) = get(s, Some(key), &path);
        assert_eq!(status, 200, "{body}");
        let data = body["data"].as_array().expect("data").clone();
        let more = body["pagination"]["hasNextPage"].as_bool().expect("hasNextPage");
        if more {
            assert_eq!(data.len(), size, "a page before the last is full");
        }
        items.extend(data);
        match body["pagination"]["nextPageCursor"].as_str() {
            Some(c) if more => cursor = Some(c.to_string()),
            None if !more => return items,
            other => panic!("hasNextPage {more} with cursor {other:?}"),
        }
    }
}

#[test]
fn health_and_auth() {
    let s = start(2_000);
    let resp = reqwest::blocking::get(format!("{}/healthz", s.base)).expect("healthz");
    assert_eq!(resp.status().as_u16(), 200);
    for key in [None, Some("nope"), Some("")] {
        let (status, body) = get(&s, key, "/api/maintenance-windows");
        assert_eq!(status, 401, "{key:?}");
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    let client = reqwest::blocking::Client::new();
    let resp = client
        .get(format!("{}/api/maintenance-windows", s.base))
        .header("Authorization", format!("Basic {PARENT}"))
        .send()
        .expect("request");
    assert_eq!(resp.status().as_u16(), 401);
}

#[test]
fn every_bad_parameter_is_a_400_naming_it() {
    let s = start(2_000);
    let cases = [
        ("afterTimestamp=", "afterTimestamp"),
        ("afterTimestamp=yesterday", "afterTimestamp"),
        ("afterTimestamp=2024-02-30T00:00:00Z", "afterTimestamp"),
        ("beforeTimestamp=2024-01-01T00:00:00Z&beforeTimestamp=2024-01-02T00:00:00Z", "beforeTimestamp"),
        ("afterTimestamp=2024-01-02T00:00:00Z&beforeTimestamp=2024-01-01T00:00:00Z", "beforeTimestamp"),
        ("afterTimestamp=2024-01-01T00:00:00Z&beforeTimestamp=2024-01-01T00:00:00Z", "beforeTimestamp"),
        ("chargerIds=abc", "chargerIds"),
        ("siteIds=-1", "siteIds"),
        ("organizationIds=", "organizationIds"),
        ("pageSize=0", "pageSize"),
        ("pageSize=51", "pageSize"),
        ("pageSize=ten", "pageSize"),
        ("status=soon", "status"),
        ("nextPageCursor=garbage", "nextPageCursor"),
        ("limit=5", "limit"),
    ];
    for (query, parameter) in cases {
        let (status, body) = get(&s, Some(PARENT), &format!("/api/maintenance-windows?{query}"));
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["parameter"], parameter, "{query}: {body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains(parameter)));
    }
    let many = (0..501).map(|i| format!("chargerIds={i}")).collect::<Vec<_>>().join("&");
    let (status, _) = get(&s, Some(PARENT), &format!("/api/maintenance-windows?{many}"));
    assert_eq!(status, 400);
}

#[test]
fn pages_walk_every_window_once_in_order() {
    let s = start(3_000);
    let items = walk(&s, PARENT, "", 50);
    assert!(items.len() > 500, "the parent key sees its tree's windows");
    let mut seen = HashSet::new();
    let mut last = (String::new(), 0);
    for item in &items {
        let id = item["id"].as_u64().expect("id");
        assert!(seen.insert(id), "window {id} twice");
        let key = (item["startTimestamp"].as_str().expect("start").to_string(), id);
        assert!(key > last, "order by (startTimestamp, id)");
        last = key;
        assert!(VOLTWAY.contains(&item["organization"]["id"].as_u64().expect("org")));
        for field in ["startTimestamp", "endTimestamp", "createdAt", "updatedAt"] {
            let t = item[field].as_str().expect("timestamp");
            assert!(t.ends_with('Z') && t.len() == 27, "{field} {t} is RFC 3339 UTC with microseconds");
        }
        for field in ["comment", "charger", "site", "organization", "userEmail"] {
            assert!(item.get(field).is_some(), "{field} present");
        }
        for field in ["manufacturer", "model", "serialNumber", "latitude", "longitude", "externalId", "ocppId"] {
            assert!(item["charger"].get(field).is_some(), "charger.{field} present (null when unknown)");
        }
    }
    // Smaller pages walk the same windows.
    let again: Vec<u64> = walk(&s, PARENT, "", 7).iter().map(|i| i["id"].as_u64().expect("id")).collect();
    assert_eq!(again, items.iter().map(|i| i["id"].as_u64().expect("id")).collect::<Vec<_>>());
    // A child key sees a subset: its own organization only.
    let child = walk(&s, CHILD, "", 50);
    assert!(!child.is_empty() && child.len() < items.len());
    assert!(child.iter().all(|i| i["organization"]["id"] == 2));
}

#[test]
fn filters_narrow_and_combine() {
    let s = start(3_000);
    let all = walk(&s, PARENT, "", 50);
    let site = all[0]["site"]["id"].as_u64().expect("site");
    let by_site = walk(&s, PARENT, &format!("&siteIds={site}"), 50);
    assert!(by_site.iter().all(|i| i["site"]["id"] == site));
    assert_eq!(by_site.len(), all.iter().filter(|i| i["site"]["id"] == site).count());
    let (a, b) = ("2026-06-01T00:00:00Z", "2026-06-08T00:00:00+02:00");
    let ranged = walk(&s, PARENT, &format!("&afterTimestamp={a}&beforeTimestamp={}", b.replace('+', "%2B")), 50);
    let want = all
        .iter()
        .filter(|i| {
            let (start, end) = (i["startTimestamp"].as_str().expect("s"), i["endTimestamp"].as_str().expect("e"));
            end > "2026-06-01T00:00:00.000000Z" && start < "2026-06-07T22:00:00.000000Z"
        })
        .count();
    assert_eq!(ranged.len(), want, "overlap of [after, before)");
    let orgs = walk(&s, PARENT, "&organizationIds=2&organizationIds=3", 50);
    assert!(orgs.iter().all(|i| [2, 3].contains(&i["organization"]["id"].as_u64().expect("org"))));
}

#[test]
fn no_tenant_sees_another() {
    let s = start(3_000);
    let mine = walk(&s, OTHER, "", 50);
    assert!(!mine.is_empty());
    assert!(mine.iter().all(|i| !VOLTWAY.contains(&i["organization"]["id"].as_u64().expect("org"))));
    // Another tenant's organizations, chargers or sites: nothing, as for unknown ones.
    let voltway = walk(&s, PARENT, "", 50);
    let their_site = voltway[0]["site"]["id"].as_u64().expect("site");
    let their_charger = voltway[0]["charger"]["id"].as_u64().expect("charger");
    for query in [
        "&organizationIds=1".to_string(),
        "&organizationIds=2".to_string(),
        "&organizationIds=999999".to_string(),
        format!("&siteIds={their_site}"),
        format!("&chargerIds={their_charger}"),
    ] {
        assert!(walk(&s, OTHER, &query, 50).is_empty(), "{query}");
    }
    // A cursor minted for one key is refused for another.
    let (_, body) = get(&s, Some(PARENT), "/api/maintenance-windows?pageSize=5");
    let cursor = body["pagination"]["nextPageCursor"].as_str().expect("cursor");
    let (status, body) = get(&s, Some(OTHER), &format!("/api/maintenance-windows?pageSize=5&nextPageCursor={cursor}"));
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["parameter"], "nextPageCursor");
}

#[test]
fn status_filters_partition_the_windows() {
    let s = start(3_000);
    let all = walk(&s, PARENT, "", 50).len();
    let parts: usize =
        ["active", "upcoming", "past"].iter().map(|st| walk(&s, PARENT, &format!("&status={st}"), 50).len()).sum();
    assert_eq!(parts, all);
}

fn send(s: &Server, method: reqwest::Method, key: &str, path: &str, body: Option<String>) -> (u16, Value) {
    let client = reqwest::blocking::Client::new();
    let mut req = client.request(method, format!("{}{path}", s.base)).header("Authorization", format!("Bearer {key}"));
    if let Some(b) = body {
        req = req.header("Content-Type", "application/json").body(b);
    }
    let resp = req.send().expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(Value::Null))
}

fn item(org: u64, start: &str, end: &str) -> Value {
    serde_json::json!({
        "startTimestamp": start,
        "endTimestamp": end,
        "comment": "Replace the CCS cable",
        "userEmail": "ops@voltway.example",
        "createdAt": "2026-11-01T08:00:00+01:00",
        "updatedAt": "2026-11-02T08:00:00.5Z",
        "charger": {"id": 777001, "name": "Test bay", "manufacturer": null, "model": null,
                    "networkServiceProvider": "Hubject", "chargerType": "DC", "serialNumber": null,
                    "numberOfPorts": 2, "latitude": null, "longitude": null, "externalId": null, "ocppId": "CPX"},
        "site": {"id": 777002, "name": "Test site", "locationId": null},
        "organization": {"id": org, "name": "ignored"}
    })
}

#[test]
fn writes_create_replace_and_delete_within_the_key_scope() {
    use reqwest::Method;
    let s = start(2_000);
    let path = "/api/maintenance-windows/900001";
    let body = item(2, "2027-01-01T10:00:00+01:00", "2027-01-01T12:00:00Z").to_string();
    let (status, created) = send(&s, Method::PUT, PARENT, path, Some(body.clone()));
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["id"], 900001);
    assert_eq!(created["startTimestamp"], "2027-01-01T09:00:00.000000Z");
    assert_eq!(created["updatedAt"], "2026-11-02T08:00:00.500000Z");
    assert_eq!(created["organization"]["name"], "Voltway North");
    let (status, _) = send(&s, Method::PUT, PARENT, path, Some(body.clone()));
    assert_eq!(status, 200, "a replace");
    let found = walk(&s, PARENT, "&siteIds=777002", 50);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0], created);
    // Another tenant can neither see, replace, move into its tree, nor delete it.
    assert!(walk(&s, OTHER, "&siteIds=777002", 50).is_empty());
    let (status, _) =
        send(&s, Method::PUT, OTHER, path, Some(item(6, "2027-01-01T10:00:00Z", "2027-01-01T11:00:00Z").to_string()));
    assert_eq!(status, 403, "replacing another tenant's window");
    let (status, _) = send(&s, Method::PUT, OTHER, "/api/maintenance-windows/900002", Some(body.clone()));
    assert_eq!(status, 403, "writing for another tenant's organization");
    let (status, _) = send(
        &s,
        Method::PUT,
        CHILD,
        "/api/maintenance-windows/900003",
        Some(item(3, "2027-01-01T10:00:00Z", "2027-01-01T11:00:00Z").to_string()),
    );
    assert_eq!(status, 403, "a child key writing for its sibling");
    let (status, _) = send(&s, Method::DELETE, OTHER, path, None);
    assert_eq!(status, 404);
    let (status, _) = send(&s, Method::DELETE, PARENT, path, None);
    assert_eq!(status, 204);
    let (status, _) = send(&s, Method::DELETE, PARENT, path, None);
    assert_eq!(status, 404, "gone");
    assert!(walk(&s, PARENT, "&siteIds=777002", 50).is_empty());
}

#[test]
fn bad_writes_are_400s_413s_and_401s() {
    use reqwest::Method;
    let s = start(1_000);
    let good = item(2, "2027-01-01T10:00:00Z", "2027-01-01T12:00:00Z");
    let mut mismatched = good.clone();
    mismatched["id"] = 5.into();
    let mut backwards = good.clone();
    backwards["endTimestamp"] = "2027-01-01T09:00:00Z".into();
    let mut bad_time = good.clone();
    bad_time["startTimestamp"] = "2027-13-01T10:00:00Z".into();
    let mut extra = good.clone();
    extra["color"] = "red".into();
    for (body, field) in [
        (mismatched.to_string(), "id"),
        (backwards.to_string(), "endTimestamp"),
        (bad_time.to_string(), "startTimestamp"),
        (extra.to_string(), "body"),
        ("{".to_string(), "body"),
        ("[]".to_string(), "body"),
    ] {
        let (status, resp) = send(&s, Method::PUT, PARENT, "/api/maintenance-windows/9", Some(body));
        assert_eq!(status, 400, "{resp}");
        assert_eq!(resp["error"]["parameter"], field, "{resp}");
    }
    let (status, _) = send(&s, Method::PUT, PARENT, "/api/maintenance-windows/abc", Some(good.to_string()));
    assert_eq!(status, 400);
    // An oversized body is refused from its length, before it is sent
    // (a client still writing it would see the connection close).
    let addr = s.base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    use std::io::{Read, Write};
    write!(
        stream,
        "PUT /api/maintenance-windows/9 HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {PARENT}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        2 << 20
    )
    .expect("headers");
    let mut answer = [0u8; 512];
    let n = stream.read(&mut answer).expect("answer");
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413") && answer.contains(r#""code":"too_large""#), "{answer}");
    let (status, _) = send(&s, Method::PUT, "nope", "/api/maintenance-windows/9", Some(good.to_string()));
    assert_eq!(status, 401);
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mwindex-server-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

const TENANTS: &str = r#"{"organizations":[{"id":1,"name":"Acme","parentId":null},{"id":2,"name":"Acme West","parentId":1},{"id":9,"name":"Rival","parentId":null}],
"apiKeys":[{"token":"acme-key","organizationId":1},{"token":"west-key","organizationId":2},{"token":"rival-key","organizationId":9}]}"#;

fn import_line(id: u64, org: u64) -> String {
    let mut v = item(org, "2027-02-01T10:00:00Z", "2027-02-01T12:00:00Z");
    v["id"] = id.into();
    v.to_string()
}

#[test]
fn imports_are_all_or_nothing() {
    let dir = temp_dir("import");
    let tenants = dir.join("tenants.json");
    std::fs::write(&tenants, TENANTS).expect("tenants");
    let good: Vec<String> = (1..=200).map(|id| import_line(id, 1 + id % 2)).collect();
    // A bad line stops the import: the server names it and does not start.
    for (bad, why) in [("{not json", "line 101"), (&import_line(5, 1)[..], "already on line")] {
        let mut lines = good.clone();
        lines.insert(100, bad.to_string());
        let file = dir.join("bad.jsonl");
        std::fs::write(&file, lines.join("\n")).expect("write");
        let out = Command::new(env!("CARGO_BIN_EXE_mwindex-server"))
            .args(["--listen", "127.0.0.1:0", "--tenants"])
            .arg(&tenants)
            .arg("--import")
            .arg(&file)
            .output()
            .expect("run");
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why) && err.contains("nothing was imported"), "{err}");
    }
    let file = dir.join("good.jsonl");
    std::fs::write(&file, good.join("\n")).expect("write");
    let s = start_with(&["--tenants", tenants.to_str().expect("utf-8"), "--import", file.to_str().expect("utf-8")]);
    assert_eq!(walk(&s, "acme-key", "", 50).len(), 200);
    assert_eq!(walk(&s, "west-key", "", 50).len(), 100);
    assert!(walk(&s, "rival-key", "", 50).is_empty());
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Durable mode: writes acknowledged before a kill -9 are all there after
/// a restart.
#[test]
fn durable_mode_keeps_every_acknowledged_write_through_kill_nine() {
    use reqwest::Method;
    let dir = temp_dir("durable");
    let tenants = dir.join("tenants.json");
    std::fs::write(&tenants, TENANTS).expect("tenants");
    let data = dir.join("data");
    let args = ["--tenants", tenants.to_str().expect("utf-8"), "--data-dir", data.to_str().expect("utf-8")];
    let mut acked = Vec::new();
    for round in 0..3u64 {
        let mut s = start_with(&args);
        for id in acked.iter() {
            let (status, _) = send(&s, Method::DELETE, "rival-key", &format!("/api/maintenance-windows/{id}"), None);
            assert_eq!(status, 404, "another tenant cannot see window {id}");
        }
        assert_eq!(walk(&s, "acme-key", "", 50).len(), acked.len(), "round {round}: every acknowledged window");
        for k in 0..40 {
            let id = round * 1_000 + k;
            let body = item(1 + k % 2, "2027-03-01T10:00:00Z", "2027-03-01T11:00:00Z").to_string();
            let (status, _) = send(&s, Method::PUT, "acme-key", &format!("/api/maintenance-windows/{id}"), Some(body));
            assert_eq!(status, 201);
            acked.push(id);
        }
        // SIGKILL: no shutdown, no final sync.
        s.child.kill().expect("kill");
        let _ = s.child.wait();
    }
    let s = start_with(&args);
    assert_eq!(walk(&s, "acme-key", "", 50).len(), acked.len());
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every page of `GET /v1/maintenance_windows`, following `after`.
fn walk_incident(s: &Server, key: &str, query: &str, size: Option<usize>) -> Vec<Value> {
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut params: Vec<String> = query.split('&').filter(|p| !p.is_empty()).map(String::from).collect();
        if let Some(n) = size {
            params.push(format!("page_size={n}"));
        }
        if let Some(a) = &after {
            params.push(format!("after={a}"));
        }
        let path = format!("/v1/maintenance_windows?{}", params.join("&"));
        let (status, body) = get(s, Some(key), &path);
        assert_eq!(status, 200, "{path}: {body}");
        let page = body["maintenance_windows"].as_array().expect("items").clone();
        let meta = &body["pagination_meta"];
        assert_eq!(meta["page_size"].as_u64(), Some(size.unwrap_or(25) as u64));
        match meta.get("after").and_then(Value::as_str) {
            Some(a) => {
                assert_eq!(page.len(), size.unwrap_or(25), "a page before the last is full");
                assert_eq!(page.last().expect("items")["id"], a, "after is the page's last id");
                after = Some(a.to_string());
                items.extend(page);
            }
            None => {
                items.extend(page);
                return items;
            }
        }
    }
}

#[test]
fn incident_pages_in_id_order_within_the_key_scope() {
    let s = start(3_000);
    let mine = walk_incident(&s, PARENT, "", None);
    assert!(mine.len() > 30, "{}", mine.len());
    let ids: Vec<&str> = mine.iter().map(|i| i["id"].as_str().expect("id")).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ascending ULIDs, each once");
    let small: Vec<Value> = walk_incident(&s, PARENT, "", Some(7));
    assert_eq!(small, mine);
    let theirs = walk_incident(&s, OTHER, "", Some(50));
    assert!(theirs.iter().all(|i| !ids.contains(&i["id"].as_str().expect("id"))));
    let parts: usize = ["active", "upcoming", "past"]
        .iter()
        .map(|st| walk_incident(&s, PARENT, &format!("&status={st}"), Some(50)).len())
        .sum();
    assert_eq!(parts, mine.len());
    for (query, parameter) in [
        ("page_size=0", "page_size"),
        ("page_size=51", "page_size"),
        ("after=not-a-ulid", "after"),
        ("after=", "after"),
        ("status=later", "status"),
        ("pageSize=5", "pageSize"),
    ] {
        let (status, body) = get(&s, Some(PARENT), &format!("/v1/maintenance_windows?{query}"));
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["parameter"], parameter);
    }
}

#[test]
fn incident_writes_keep_items_as_sent() {
    use reqwest::Method;
    let s = start(1_000);
    let id = "01JF0000000000000000000001";
    let path = format!("/v1/maintenance_windows/{id}");
    let body = serde_json::json!({
        "name": "Planned database migration",
        "start_at": "2027-05-01T10:00:00+02:00",
        "end_at": "2027-05-01T12:00:00Z",
        "show_in_sidebar": true,
        "organization_id": 3
    });
    let (status, stored) = send(&s, Method::PUT, PARENT, &path, Some(body.to_string()));
    assert_eq!(status, 201, "{stored}");
    assert_eq!(stored["id"], id);
    assert_eq!(stored["start_at"], "2027-05-01T08:00:00.000000Z");
    assert_eq!(stored["name"], "Planned database migration");
    assert!(stored.get("organization_id").is_none());
    let (status, _) = send(&s, Method::PUT, PARENT, &path, Some(body.to_string()));
    assert_eq!(status, 200);
    let listed = walk_incident(&s, "demo-voltway-child-2", "", Some(50));
    assert!(listed.contains(&stored), "the organization's own key sees it as stored");
    let (status, _) = send(&s, Method::PUT, OTHER, &path, Some(body.to_string()));
    assert_eq!(status, 403);
    let (status, _) = send(&s, Method::DELETE, OTHER, &path, None);
    assert_eq!(status, 404);
    let (status, resp) = send(&s, Method::PUT, PARENT, "/v1/maintenance_windows/nope", Some(body.to_string()));
    assert_eq!((status, resp["error"]["parameter"].as_str()), (400, Some("id")));
    let mut wrong = body.clone();
    wrong["id"] = "01JF0000000000000000000002".into();
    let (status, _) = send(&s, Method::PUT, PARENT, &path, Some(wrong.to_string()));
    assert_eq!(status, 400);
    let (status, _) = send(&s, Method::DELETE, PARENT, &path, None);
    assert_eq!(status, 204);
}

#[test]
fn openapi_and_metrics_describe_the_server() {
    let s = start(1_000);
    let doc: Value = reqwest::blocking::get(format!("{}/openapi.json", s.base)).expect("openapi").json().expect("json");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")));
    for path in [
        "/api/maintenance-windows",
        "/api/maintenance-windows/{id}",
        "/v1/maintenance_windows",
        "/v1/maintenance_windows/{id}",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
    let _ = get(&s, Some(PARENT), "/api/maintenance-windows?pageSize=3");
    let _ = get(&s, None, "/api/maintenance-windows");
    let text = reqwest::blocking::get(format!("{}/metrics", s.base)).expect("metrics").text().expect("text");
    assert!(
        text.contains(r#"mwindex_http_requests_total{route="/api/maintenance-windows",method="GET",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"mwindex_http_requests_total{route="/api/maintenance-windows",method="GET",status="401"} 1"#)
    );
    assert!(text.contains(r#"mwindex_windows{api="ev",root="1"}"#));
}

/// A walk reads the version its first page pinned: while another client
/// moves the walked windows (new start times, so a keyset walk would skip
/// some and repeat others), the walk returns every window once.
#[test]
fn page_walks_stay_consistent_while_another_client_writes() {
    use reqwest::Method;
    let s = start(3_000);
    let before = walk(&s, CHILD, "", 50);
    let ids: HashSet<u64> = before.iter().map(|i| i["id"].as_u64().expect("id")).collect();
    assert!(ids.len() > 100);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let mut moved = 0;
            let mut k = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut item = before[k % before.len()].clone();
                k += 7;
                let id = item["id"].as_u64().expect("id");
                // Move it by a day, forward or back.
                let shift = if k.is_multiple_of(2) { "2026-01-01T00:00:00Z" } else { "2027-06-01T00:00:00Z" };
                item["startTimestamp"] = shift.into();
                item["endTimestamp"] = shift.replace("00:00:00", "05:00:00").into();
                if let Some(o) = item.as_object_mut() {
                    o.remove("organization");
                    o.insert("organization".into(), serde_json::json!({"id": 2}));
                }
                let (status, body) =
                    send(&s, Method::PUT, CHILD, &format!("/api/maintenance-windows/{id}"), Some(item.to_string()));
                assert_eq!(status, 200, "{body}");
                moved += 1;
            }
            moved
        });
        let walks: Vec<Vec<u64>> =
            (0..5).map(|_| walk(&s, CHILD, "", 10).iter().map(|i| i["id"].as_u64().expect("id")).collect()).collect();
        // Stop the writer before asserting, so a failure cannot leave it running.
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(writer.join().expect("writer") > 10, "the writer moved windows during the walks");
        for got in walks {
            let unique: HashSet<u64> = got.iter().copied().collect();
            assert_eq!(unique.len(), got.len(), "a window twice in one walk");
            assert_eq!(unique, ids, "a walk missed or added windows");
        }
    });
}

/// SIGTERM: in-flight work finishes, the data directory is closed, the
/// process exits cleanly, and a restart finds every write.
#[test]
fn sigterm_shuts_down_cleanly() {
    use reqwest::Method;
    let dir = temp_dir("sigterm");
    let tenants = dir.join("tenants.json");
    std::fs::write(&tenants, TENANTS).expect("tenants");
    let data = dir.join("data");
    let args = ["--tenants", tenants.to_str().expect("utf-8"), "--data-dir", data.to_str().expect("utf-8")];
    let mut s = start_with(&args);
    for id in 0..20u64 {
        let body = item(2, "2027-04-01T10:00:00Z", "2027-04-01T11:00:00Z").to_string();
        let (status, _) = send(&s, Method::PUT, "west-key", &format!("/api/maintenance-windows/{id}"), Some(body));
        assert_eq!(status, 201);
    }
    let pid = s.child.id().to_string();
    // The shell's own kill: present wherever sh is.
    let killed = Command::new("sh").args(["-c", &format!("kill -TERM {pid}")]).status().expect("kill -TERM");
    assert!(killed.success());
    let exit = s.child.wait().expect("exit");
    assert!(exit.success(), "{exit:?}");
    let s = start_with(&args);
    assert_eq!(walk(&s, "west-key", "", 50).len(), 20);
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

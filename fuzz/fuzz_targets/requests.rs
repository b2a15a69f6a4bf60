//! What a client sends the server, through the functions its handlers
//! call: query strings of both list routes (then run on an index of four
//! organizations: never a window outside the key's, whatever the cursor or
//! filter), `PUT` bodies of both routes (a valid window with the path's id,
//! or an error naming a field), and path ids.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mwindex::{ChargerId, CursorKey, OrgId, SharedIndex, SiteId, Timestamp, Ulid, Window};
use mwindex_server::{app, incident};

/// Organization 1 is the parent of 2 and 3; 4 is a root.
fn allowed(key: OrgId) -> &'static [u64] {
    match key.0 {
        1 => &[1, 2, 3],
        2 => &[2],
        3 => &[3],
        _ => &[4],
    }
}

fn builder<I: mwindex::WindowId>() -> mwindex::IndexBuilder<I, u32> {
    SharedIndex::builder()
        .cursor_key(CursorKey::from_bytes([7; 32]))
        .organization(OrgId(1), None)
        .organization(OrgId(2), Some(OrgId(1)))
        .organization(OrgId(3), Some(OrgId(1)))
        .organization(OrgId(4), None)
}

/// Window `i`: ten minutes after the one before, from a day ago (so that
/// every status matches some), one to five hours long.
fn window<I: mwindex::WindowId>(id: I, i: u64) -> Window<I> {
    let now = app::now().as_micros() / 1_000_000;
    let s = Timestamp::from_secs(now - 86_400 + i as i64 * 600).expect("t");
    let e = Timestamp::from_secs(now - 86_400 + i as i64 * 600 + 3_600 * (1 + i as i64 % 5)).expect("t");
    Window::new(id, s, e, OrgId(1 + i % 4)).expect("w").with_charger(ChargerId(i % 9)).with_site(SiteId(i % 5))
}

fn ev() -> &'static SharedIndex<u64, u32> {
    static INDEX: OnceLock<SharedIndex<u64, u32>> = OnceLock::new();
    INDEX.get_or_init(|| builder().build_shared_from((0..300u64).map(|i| (window(i, i), i as u32))).expect("index"))
}

fn incidents() -> &'static SharedIndex<Ulid, u32> {
    static INDEX: OnceLock<SharedIndex<Ulid, u32>> = OnceLock::new();
    INDEX.get_or_init(|| {
        builder()
            .build_shared_from((0..300u64).map(|i| (window(Ulid(u128::from(i) << 40 | 0x5eed), i), i as u32)))
            .expect("index")
    })
}

fuzz_target!(|input: (u8, u8, &[u8])| {
    let (route, key, bytes) = input;
    let key = OrgId(1 + u64::from(key % 4));
    let text = String::from_utf8_lossy(bytes);
    match route % 5 {
        0 => {
            if let Ok(q) = app::ev_query(key, Some(&text))
                && let Ok(page) = ev().query(&q)
            {
                for e in page.items() {
                    assert!(allowed(key).contains(&e.window.org().0), "window {} outside {key}", e.window.id());
                }
            }
        }
        1 => {
            if let Ok((q, size)) = incident::list_query(key, Some(&text), app::now())
                && let Ok(page) = incidents().query(&q)
            {
                assert!(page.items().len() <= size);
                assert!(page.items().windows(2).all(|p| p[0].window.id() < p[1].window.id()), "id order");
                for e in page.items() {
                    assert!(allowed(key).contains(&e.window.org().0), "window {} outside {key}", e.window.id());
                }
            }
        }
        2 => {
            if let Ok((w, record)) = app::ev_body(bytes, 42, app::now()) {
                assert_eq!(w.id(), 42);
                assert!(w.start() < w.end());
                assert_eq!(w.charger(), Some(ChargerId(record.charger.id)));
            }
        }
        3 => {
            let id = Ulid(0x0123_4567_89ab_cdef);
            if let Ok((w, item)) = incident::item_body(bytes, id, key) {
                assert_eq!(w.id(), id);
                assert!(w.start() < w.end());
                assert_eq!(item.0.get("id").and_then(|v| v.as_str()), Some(id.to_string().as_str()));
            }
        }
        _ => {
            if app::parse_id(&text).is_ok() {
                assert!(text.bytes().all(|b| b.is_ascii_digit() || b == b'+'), "id {text:?} accepted");
            }
            if let Ok(id) = incident::parse_id(&text) {
                assert_eq!(id.to_string().parse::<Ulid>().ok(), Some(id));
            }
        }
    }
});

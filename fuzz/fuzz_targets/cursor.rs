//! Cursor decoding and paging with an arbitrary cursor string under an
//! arbitrary scope: never a panic, never a window outside the scope.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mwindex::{CursorKey, Index, Order, OrgId, Query, Timestamp, Window};

/// Organizations 1 (parent of 2 and 3) and 4 (a root), 200 windows.
fn index() -> &'static Index<u64, u32> {
    static INDEX: OnceLock<Index<u64, u32>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let windows = (0..200u64).map(|i| {
            let s = Timestamp::from_secs(i as i64 * 600).expect("t");
            let e = Timestamp::from_secs(i as i64 * 600 + 3_600 * (1 + i as i64 % 5)).expect("t");
            (Window::new(i, s, e, OrgId(1 + i % 4)).expect("w"), i as u32)
        });
        Index::builder()
            .cursor_key(CursorKey::from_bytes([7; 32]))
            .organization(OrgId(1), None)
            .organization(OrgId(2), Some(OrgId(1)))
            .organization(OrgId(3), Some(OrgId(1)))
            .organization(OrgId(4), None)
            .build_from(windows)
            .expect("index")
    })
}

fuzz_target!(|input: (u8, bool, u8, &str)| {
    let (scope, by_id, size, cursor) = input;
    let scope = OrgId(1 + u64::from(scope % 5));
    let order = if by_id { Order::Id } else { Order::StartThenId };
    let q = Query::new().scope(scope).order(order).page_size(1 + usize::from(size % 50)).cursor(cursor);
    if let Ok(page) = index().query(&q) {
        let allowed: &[u64] = match scope.0 {
            1 => &[1, 2, 3],
            2 => &[2],
            3 => &[3],
            4 => &[4],
            _ => &[],
        };
        for e in page.items() {
            assert!(allowed.contains(&e.window.org().0), "window {} outside scope {scope}", e.window.id());
        }
    }
});

//! Cursor decoding and paging with an arbitrary cursor string under an
//! arbitrary scope: never a panic, never a window outside the scope.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mwindex::{Index, Order, OrgId, Query};

#[path = "cursor_index.rs"]
mod cursor_index;

/// The index of [`cursor_index::build`], built once.
fn index() -> &'static Index<u64, u32> {
    static INDEX: OnceLock<Index<u64, u32>> = OnceLock::new();
    INDEX.get_or_init(cursor_index::build)
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

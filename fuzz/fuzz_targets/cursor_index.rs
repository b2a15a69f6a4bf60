//! The cursor target's index, also built by `examples/fuzz_seeds.rs` (which
//! includes this file) so that the seeds are cursors this very index issued.

use mwindex::{CursorKey, Index, OrgId, Timestamp, Window};

/// Organizations 1 (parent of 2 and 3) and 4 (a root), 200 windows, a fixed
/// cursor key.
pub fn build() -> Index<u64, u32> {
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
}

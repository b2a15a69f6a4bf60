//! Scenario tests of the public API: boundaries, scopes, plans, ids, errors.

#![allow(clippy::unwrap_used)]

use mwindex::{
    ChargerId, CursorError, Driver, Error, Index, Order, OrgId, Query, SiteId, Status, Timestamp, Ulid, Window,
};

const H: i64 = 3_600_000_000;

fn t(h: i64) -> Timestamp {
    Timestamp::from_micros(1_704_067_200_000_000 + h * H).unwrap()
}

fn ids<I: mwindex::WindowId, P>(page: &mwindex::Page<'_, I, P>) -> Vec<I> {
    page.items().iter().map(|e| e.window.id()).collect()
}

fn small() -> Index<u64, ()> {
    // 1 -> 2 -> 3 (a chain), and 4 alone.
    let mut index = Index::builder()
        .organization(OrgId(3), Some(OrgId(2)))
        .organization(OrgId(2), Some(OrgId(1)))
        .organization(OrgId(1), None)
        .organization(OrgId(4), None)
        .write_buffer(2)
        .build()
        .unwrap();
    let rows = [(1, 0, 2, 1), (2, 2, 4, 2), (3, 2, 3, 3), (4, 5, 6, 4), (5, 0, 100, 3)];
    for (id, s, e, org) in rows {
        let w = Window::new(id, t(s), t(e), OrgId(org)).unwrap().with_charger(ChargerId(id % 2)).with_site(SiteId(org));
        index.insert(w, ()).unwrap();
    }
    index
}

#[test]
fn overlap_boundaries_are_half_open() {
    let index = small();
    // end == after excludes; start == before excludes.
    let page = index.query(&Query::new().overlapping(t(2), t(5))).unwrap();
    assert_eq!(ids(&page), [5, 2, 3]);
    let page = index.query(&Query::new().after(t(4))).unwrap();
    assert_eq!(ids(&page), [5, 4]);
    let page = index.query(&Query::new().before(t(2))).unwrap();
    assert_eq!(ids(&page), [1, 5]);
}

#[test]
fn status_boundaries() {
    let index = small();
    let active = |h| ids(&index.query(&Query::new().status(Status::Active, t(h))).unwrap());
    assert_eq!(active(2), [5, 2, 3]); // now == start is active, now == end (of 1) is not
    assert_eq!(active(4), [5]);
    let upcoming = ids(&index.query(&Query::new().status(Status::Upcoming, t(2))).unwrap());
    assert_eq!(upcoming, [4]); // now == start is not upcoming
    let past = ids(&index.query(&Query::new().status(Status::Past, t(4))).unwrap());
    assert_eq!(past, [1, 2, 3]); // now == end is past
}

#[test]
fn range_must_be_ordered() {
    let index = small();
    assert!(matches!(index.query(&Query::new().overlapping(t(3), t(3))), Err(Error::InvalidRange { .. })));
    assert!(matches!(index.count(&Query::new().overlapping(t(4), t(3))), Err(Error::InvalidRange { .. })));
}

#[test]
fn page_size_is_checked() {
    let index = small();
    for bad in [0, 51, usize::MAX] {
        let err = index.query(&Query::new().page_size(bad)).unwrap_err();
        assert_eq!(err, Error::InvalidPageSize { got: bad, max: 50 });
        assert!(err.to_string().contains("between 1 and 50"));
    }
    assert!(index.query(&Query::new().page_size(50)).is_ok());
    // Counting ignores paging.
    assert_eq!(index.count(&Query::new().page_size(0)).unwrap(), 5);
}

#[test]
fn scopes_include_descendants_and_never_leak() {
    let index = small();
    let scoped = |root| ids(&index.query(&Query::new().scope(OrgId(root))).unwrap());
    assert_eq!(scoped(1), [1, 5, 2, 3]);
    assert_eq!(scoped(2), [5, 2, 3]);
    assert_eq!(scoped(3), [5, 3]);
    assert_eq!(scoped(4), [4]);
    // Requested organizations are intersected with the scope.
    let q = Query::new().scope(OrgId(2)).organizations([OrgId(1), OrgId(4), OrgId(3)]);
    assert_eq!(ids(&index.query(&q).unwrap()), [5, 3]);
    assert_eq!(index.count(&q).unwrap(), 2);
    // Outside the scope: empty, not an error (existence is not revealed).
    let q = Query::new().scope(OrgId(4)).organizations([OrgId(1)]);
    assert!(index.query(&q).unwrap().items().is_empty());
    assert_eq!(index.count(&q).unwrap(), 0);
    assert_eq!(index.count(&Query::new().scope(OrgId(4)).organizations([OrgId(999)])).unwrap(), 0);
    // An unknown scope is an error.
    assert_eq!(index.query(&Query::new().scope(OrgId(9))).unwrap_err(), Error::UnknownOrganization(OrgId(9)));
}

#[test]
fn moving_an_organization_moves_its_windows_between_scopes() {
    let mut index = small();
    index.move_organization(OrgId(3), Some(OrgId(4))).unwrap();
    assert_eq!(ids(&index.query(&Query::new().scope(OrgId(4))).unwrap()), [5, 3, 4]);
    assert_eq!(ids(&index.query(&Query::new().scope(OrgId(1))).unwrap()), [1, 2]);
    assert!(matches!(index.move_organization(OrgId(4), Some(OrgId(3))), Err(Error::OrganizationCycle { .. })));
    index.check_invariants().unwrap();
}

#[test]
fn deep_organization_trees() {
    let depth = 2_000u64;
    let mut builder = Index::<u64, ()>::builder();
    for o in 1..=depth {
        builder = builder.organization(OrgId(o), (o > 1).then(|| OrgId(o - 1)));
    }
    let mut index = builder.build().unwrap();
    for o in 1..=depth {
        index.insert(Window::new(o, t(o as i64), t(o as i64 + 1), OrgId(o)).unwrap(), ()).unwrap();
    }
    assert_eq!(index.count(&Query::new().scope(OrgId(1))).unwrap(), depth);
    assert_eq!(index.count(&Query::new().scope(OrgId(depth - 9))).unwrap(), 10);
    let page = index.query(&Query::new().scope(OrgId(depth))).unwrap();
    assert_eq!(ids(&page), [depth]);
}

#[test]
fn builder_rejects_bad_trees() {
    let cycle = Index::<u64, ()>::builder()
        .organization(OrgId(1), Some(OrgId(2)))
        .organization(OrgId(2), Some(OrgId(1)))
        .build();
    assert!(matches!(cycle, Err(Error::OrganizationCycle { .. })));
    let missing = Index::<u64, ()>::builder().organization(OrgId(1), Some(OrgId(5))).build();
    assert_eq!(missing.unwrap_err(), Error::UnknownOrganization(OrgId(5)));
    let dup = Index::<u64, ()>::builder().organization(OrgId(1), None).organization(OrgId(1), None).build();
    assert_eq!(dup.unwrap_err(), Error::DuplicateOrganization(OrgId(1)));
}

#[test]
fn windows_need_known_organizations_and_positive_length() {
    let mut index: Index<u64, ()> = Index::new();
    let w = Window::new(1, t(0), t(1), OrgId(1)).unwrap();
    assert_eq!(index.insert(w, ()).unwrap_err(), Error::UnknownOrganization(OrgId(1)));
    assert_eq!(index.upsert(w, ()).unwrap_err(), Error::UnknownOrganization(OrgId(1)));
    assert!(index.is_empty());
    assert!(matches!(Window::new(1u64, t(1), t(1), OrgId(1)), Err(Error::EmptyInterval { .. })));
    assert!(matches!(Window::new(1u64, t(2), t(1), OrgId(1)), Err(Error::EmptyInterval { .. })));
    index.check_invariants().unwrap();
}

#[test]
fn bulk_insert_is_all_or_nothing() {
    let mut index = small();
    let good = Window::new(10, t(0), t(1), OrgId(1)).unwrap();
    let dup = Window::new(1, t(0), t(1), OrgId(1)).unwrap();
    assert_eq!(index.bulk_insert([(good, ()), (dup, ())]).unwrap_err(), Error::DuplicateId("1".into()));
    assert_eq!(index.bulk_insert([(good, ()), (good, ())]).unwrap_err(), Error::DuplicateId("10".into()));
    let orphan = Window::new(11, t(0), t(1), OrgId(77)).unwrap();
    assert_eq!(index.bulk_insert([(good, ()), (orphan, ())]).unwrap_err(), Error::UnknownOrganization(OrgId(77)));
    assert_eq!(index.len(), 5);
    index.bulk_insert([(good, ())]).unwrap();
    assert_eq!(index.len(), 6);
    index.check_invariants().unwrap();
}

#[test]
fn one_microsecond_and_multi_year_windows() {
    let mut index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).write_buffer(1).build().unwrap();
    let s = t(10);
    let tiny = Window::new(1, s, Timestamp::from_micros(s.as_micros() + 1).unwrap(), OrgId(1)).unwrap();
    let huge = Window::new(2, t(-24 * 365 * 3), t(24 * 365 * 3), OrgId(1)).unwrap();
    index.insert(tiny, ()).unwrap();
    index.insert(huge, ()).unwrap();
    assert_eq!(ids(&index.query(&Query::new().status(Status::Active, s)).unwrap()), [2, 1]);
    let after = Timestamp::from_micros(s.as_micros() + 1).unwrap();
    assert_eq!(ids(&index.query(&Query::new().status(Status::Active, after)).unwrap()), [2]);
    assert_eq!(index.count(&Query::new().overlapping(s, after)).unwrap(), 2);
}

#[test]
fn planner_drives_from_the_cheapest_structure() {
    let mut index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).build().unwrap();
    let windows = (0..20_000u64).map(|i| {
        let s = i as i64;
        let w = Window::new(i, t(s), t(s + 2), OrgId(1))
            .unwrap()
            .with_charger(ChargerId(i % 1000))
            .with_site(SiteId(i % 10));
        (w, ())
    });
    index.bulk_insert(windows).unwrap();
    // One charger over a wide range: its posting list, not the time range.
    let q = Query::new().overlapping(t(0), t(20_000)).chargers([ChargerId(5)]);
    assert_eq!(index.explain(&q).unwrap().driver, Driver::ChargerPostings);
    assert_eq!(index.query(&q).unwrap().driver(), Driver::ChargerPostings);
    // No filter over a wide range: walk time, stopping after a page.
    let q = Query::new().overlapping(t(0), t(20_000));
    let plan = index.explain(&q).unwrap();
    assert_eq!(plan.driver, Driver::TimeRange);
    assert!(plan.estimated_rows <= 51.0, "{plan:?}");
    // A filter that keeps half the rows: time still wins.
    let q = Query::new().overlapping(t(0), t(20_000)).sites((0..5).map(SiteId));
    assert_eq!(index.explain(&q).unwrap().driver, Driver::TimeRange);
    // Unknown ids: nothing to read.
    let q = Query::new().chargers([ChargerId(123_456)]);
    assert_eq!(index.explain(&q).unwrap().driver, Driver::Nothing);
    // Counts of one kind of id with no time bound add up posting lists.
    let q = Query::new().chargers([ChargerId(5), ChargerId(6)]);
    assert_eq!(index.explain_count(&q).unwrap().driver, Driver::PostingCount);
    assert_eq!(index.count(&q).unwrap(), 40);
    index.delete(5).unwrap();
    assert_eq!(index.count(&q).unwrap(), 39);
    // Time-only counts use ranks.
    let q = Query::new().status(Status::Active, t(100));
    assert_eq!(index.explain_count(&q).unwrap().driver, Driver::RankCount);
    assert_eq!(index.count(&q).unwrap(), 2);
    // A sparse filter in id order collects matches instead of walking ids.
    let q = Query::new().order(Order::Id).chargers([ChargerId(7)]);
    assert_eq!(index.explain(&q).unwrap().driver, Driver::ChargerPostings);
    // A dense one walks ids.
    let q = Query::new().order(Order::Id).status(Status::Past, t(19_000));
    assert_eq!(index.explain(&q).unwrap().driver, Driver::IdOrder);
    assert_eq!(ids(&index.query(&q.page_size(3)).unwrap()), [0, 1, 2]);
}

#[test]
fn cursor_survives_deletion_and_moves_of_its_last_window() {
    let mut index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).write_buffer(3).build().unwrap();
    for i in 0..10u64 {
        index.insert(Window::new(i, t(i as i64), t(i as i64 + 1), OrgId(1)).unwrap(), ()).unwrap();
    }
    let q = Query::new().page_size(3);
    let first = index.query(&q).unwrap();
    assert_eq!(ids(&first), [0, 1, 2]);
    let c1 = first.next_cursor().unwrap().to_owned();
    index.delete(2).unwrap();
    let second = index.query(&q.clone().cursor(c1)).unwrap();
    assert_eq!(ids(&second), [3, 4, 5]);
    let c2 = second.next_cursor().unwrap().to_owned();
    // Move the last window of the page far ahead: the walk continues from the old key.
    index.upsert(Window::new(5, t(100), t(101), OrgId(1)).unwrap(), ()).unwrap();
    let third = index.query(&q.clone().cursor(c2)).unwrap();
    assert_eq!(ids(&third), [6, 7, 8]);
    let fourth = index.query(&q.clone().cursor(third.next_cursor().unwrap())).unwrap();
    assert_eq!(ids(&fourth), [9, 5]);
    assert!(!fourth.has_next());
}

#[test]
fn ulid_ids_page_in_id_order_with_after() {
    let mut index: Index<Ulid, &str> = Index::builder().organization(OrgId(1), None).build().unwrap();
    let ulids = ["01FCNDV6P870EA6S7TK1DSYDG0", "01FCQSP07Z74QMMYPDDGQB9FTG", "01GW2G3V0S59R238FAHPDS1R66"];
    for (i, u) in ulids.iter().enumerate().rev() {
        let w = Window::new(u.parse().unwrap(), t(10 - i as i64), t(20), OrgId(1)).unwrap();
        index.insert(w, "migration").unwrap();
    }
    let q = Query::new().order(Order::Id).page_size(2).status(Status::Active, t(15));
    let first = index.query(&q).unwrap();
    let got: Vec<String> = first.items().iter().map(|e| e.window.id().to_string()).collect();
    assert_eq!(got, ulids[..2]);
    // incident.io style: after=<id of the last window>.
    let after: Ulid = ulids[1].parse().unwrap();
    let rest = index.query(&q.clone().after_id(after)).unwrap();
    assert_eq!(rest.items()[0].window.id().to_string(), ulids[2]);
    // And the opaque cursor agrees.
    let rest2 = index.query(&q.clone().cursor(first.next_cursor().unwrap())).unwrap();
    assert_eq!(ids(&rest), ids(&rest2));
    assert!(matches!(index.query(&Query::new().after_id(after)), Err(Error::InvalidQuery(_))));
    assert!(matches!(
        index.query(&q.clone().after_id(after).cursor(first.next_cursor().unwrap())),
        Err(Error::InvalidQuery(_))
    ));
}

#[test]
fn status_now_is_not_part_of_the_cursor() {
    let index = small();
    let q = |now| Query::new().status(Status::Active, t(now)).page_size(1);
    let first = index.query(&q(2)).unwrap();
    let later = index.query(&q(3).cursor(first.next_cursor().unwrap())).unwrap();
    assert_eq!(ids(&later), [2]);
    // But the status is.
    let err = index.query(&Query::new().status(Status::Past, t(3)).page_size(1).cursor(first.next_cursor().unwrap()));
    assert_eq!(err.unwrap_err(), Error::Cursor(CursorError::WrongQuery));
}

#[test]
fn garbage_cursors_never_panic() {
    let index = small();
    let long = "A".repeat(100_000);
    for bad in
        ["", "=", "%%%", "AQ", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", long.as_str(), "\u{1F600}"]
    {
        let err = index.query(&Query::new().cursor(bad)).unwrap_err();
        assert!(matches!(err, Error::Cursor(_)), "{bad:?}: {err:?}");
    }
}

#[test]
fn errors_read_well() {
    let e = Error::InvalidRange { after: t(1), before: t(0) };
    assert_eq!(e.to_string(), "`after` (2024-01-01T01:00:00Z) must be before `before` (2024-01-01T00:00:00Z)");
    assert_eq!(Error::UnknownOrganization(OrgId(4)).to_string(), "unknown organization 4");
    assert!(Error::Cursor(CursorError::Forged).to_string().contains("failed authentication"));
}

/// Regression: a filtered page whose last place is contested by windows with
/// the same start in different length tiers (whose posting lists are merged
/// by start alone) must still order them by id. Found by mutating the merge's
/// stop rule to stop at the page's last start instead of after it.
#[test]
fn equal_starts_across_tiers_order_by_id_at_the_page_edge() {
    // Four windows start at hour 10: 1 h, 2 days and 40 days long, ids chosen
    // so the longest tier holds the smallest ids. Two start earlier. Bulk
    // loaded, so they sit in a segment, not the write buffer.
    let rows = [(50, 0, 1), (51, 5, 6), (30, 10, 11), (20, 10, 58), (10, 10, 970), (40, 10, 12)];
    let window =
        |id, s, e, charger| (Window::new(id, t(s), t(e), OrgId(1)).unwrap().with_charger(ChargerId(charger)), ());
    // Many windows of another charger make the charger filter selective.
    let filler = (0..3_000).map(|h| window(1_000 + h as u64, h, h + 1, 99));
    let windows = rows.into_iter().map(|(id, s, e)| window(id, s, e, id % 3)).chain(filler);
    let index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).build_from(windows).unwrap();
    let all: Vec<ChargerId> = (0..3).map(ChargerId).collect();
    let want = [50, 51, 10, 20, 30, 40];
    for size in 1..=6 {
        let query = Query::new().chargers(all.clone()).page_size(size);
        let page = index.query(&query).unwrap();
        assert_eq!(page.driver(), Driver::ChargerPostings);
        assert_eq!(ids(&page), want[..size], "page size {size}");
        let mut walked = ids(&page);
        let mut cursor = page.next_cursor().map(str::to_owned);
        while let Some(c) = cursor {
            let page = index.query(&query.clone().cursor(c)).unwrap();
            walked.extend(ids(&page));
            cursor = page.next_cursor().map(str::to_owned);
        }
        assert_eq!(walked, want, "walk with page size {size}");
    }
}

/// Regression (found by an independent probe): `count` accepted a garbage
/// cursor that `query` and `explain` reject. A count takes the same query
/// as its pages: a cursor is checked the same way, then its position
/// ignored (a count counts every match).
#[test]
fn regression_count_checks_the_cursor_as_query_does() {
    let index = small();
    for bad in ["garbage!", "", "AAAA", "not a cursor"] {
        let q = Query::new().cursor(bad);
        let from_query = index.query(&q).unwrap_err();
        assert_eq!(index.count(&q).unwrap_err(), from_query, "{bad:?}");
        assert_eq!(index.explain_count(&q).unwrap_err(), from_query, "{bad:?}");
    }
    let q = Query::new().page_size(2);
    let cursor = index.query(&q).unwrap().next_cursor().unwrap().to_owned();
    // The cursor's own query: counted whole.
    assert_eq!(index.count(&q.clone().cursor(cursor.clone())).unwrap(), index.count(&q).unwrap());
    // Another query's cursor.
    let other = Query::new().scope(OrgId(1)).cursor(cursor.clone());
    assert_eq!(index.count(&other).unwrap_err(), Error::Cursor(CursorError::WrongQuery));
    // A cursor and an after-id together, as for pages.
    let both = Query::new().order(Order::Id).after_id(1).cursor(cursor);
    assert!(matches!(index.count(&both), Err(Error::InvalidQuery(_))));
    assert!(matches!(index.query(&both), Err(Error::InvalidQuery(_))));
}

/// Regression (found by an independent probe): a query could not drop its
/// cursor or after-id once set.
#[test]
fn regression_a_query_drops_its_cursor_and_after_id() {
    let index = small();
    let q = Query::new().page_size(2);
    let first = index.query(&q).unwrap();
    let second = q.clone().cursor(first.next_cursor().unwrap());
    assert_ne!(ids(&index.query(&second).unwrap()), ids(&first));
    assert_eq!(ids(&index.query(&second.without_cursor()).unwrap()), ids(&first));
    let by_id = Query::new().order(Order::Id).page_size(2);
    let after = by_id.clone().after_id(2);
    assert_eq!(ids(&index.query(&after).unwrap()), [3, 4]);
    let back = after.without_after_id();
    assert_eq!(back.after_id_value(), None);
    assert_eq!(ids(&index.query(&back).unwrap()), [1, 2]);
}

/// Regression (found by an independent probe): fractional digits past the
/// ninth were dropped unread, so a non-zero one passed as whole microseconds.
#[test]
fn regression_timestamps_finer_than_microseconds_are_refused_at_any_digit() {
    for bad in ["2024-01-01T00:00:00.1234560001Z", "2024-01-01T00:00:00.0000000001Z"] {
        assert!(matches!(Timestamp::parse(bad), Err(Error::InvalidTimestamp(_))), "{bad}");
    }
    let t = Timestamp::parse("2024-01-01T00:00:00.123456000000Z").unwrap();
    assert_eq!(t, Timestamp::parse("2024-01-01T00:00:00.123456Z").unwrap());
}

/// Timestamps add and subtract durations, checked, and subtract from each
/// other; bounds arithmetic needs no detour through microseconds.
#[test]
fn timestamps_have_checked_arithmetic() {
    use std::time::Duration;
    let week = Duration::from_secs(7 * 86_400);
    let start = t(0);
    let end = start.checked_add(week).unwrap();
    assert_eq!(end.duration_since(start), Some(week));
    assert_eq!(start.duration_since(end), None);
    assert_eq!((end - start).num_seconds(), 7 * 86_400);
    assert_eq!(end.checked_sub(week), Some(start));
    assert_eq!(Timestamp::MAX.checked_add(Duration::from_micros(1)), None);
    assert_eq!(Timestamp::MIN.checked_sub(week), None);
    let index = small();
    let q = Query::new().overlapping(start, end);
    assert_eq!(index.count(&q).unwrap(), 5);
}

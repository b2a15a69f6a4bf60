//! What a payload must be: the caller's record stored with each window.

/// A payload: the caller's record stored with each window, returned with it
/// by queries. Any `Clone + Send + Sync + 'static` type is one.
///
/// The index clones a payload when it rewrites the segment holding it (a
/// merge moves every window `O(log n)` times over its life), when a write
/// returns the payload it replaced, and when a
/// [`SharedIndex`](crate::SharedIndex) hands out an owned page. Small values
/// (ids, numbers, short strings) clone cheaply; for a large record store an
/// `Arc<Record>`, whose clone is a reference count.
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use mwindex::{Index, OrgId, Timestamp, Window};
///
/// struct Record {
///     comment: String,
///     user_email: String,
/// }
///
/// let mut index: Index<u64, Arc<Record>> = Index::builder().organization(OrgId(1), None).build()?;
/// let w = Window::new(1, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?;
/// index.insert(w, Arc::new(Record { comment: "swap cable".into(), user_email: "ops@example.com".into() }))?;
/// assert_eq!(index.get(1).unwrap().payload.comment, "swap cable");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Payload: Clone + Send + Sync + 'static {}

impl<P: Clone + Send + Sync + 'static> Payload for P {}

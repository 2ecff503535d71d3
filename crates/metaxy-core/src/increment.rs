//! The result of `resolve_update`: which samples to compute, recompute, or clean up.

use arrow_array::RecordBatch;

/// The samples of a feature that need work (reference 4.6.4; older docs call the three parts
/// added / changed / removed).
///
/// * `new` — samples whose upstream exists but which have never been computed (or not under
///   the current feature version). Columns: the join/id columns, the upstream user columns and
///   the four versioning columns to write with the computed result.
/// * `stale` — computed samples whose provenance changed (or that match a staleness
///   predicate). Same columns as `new`, plus [`STALE_FIELDS`](crate::columns::STALE_FIELDS):
///   the struct keys of the fields whose provenance differs from the stored one, so a step that
///   produces several fields can redo only those (empty for predicate-only staleness).
/// * `orphaned` — stored samples whose upstream is gone. Columns: the id and join columns and
///   the stored versioning columns (plus any column a predicate or filter referenced).
///
/// For a 1:N feature, `new`, `stale` and `orphaned` are at the parent level: one row per
/// parent, not per child.
#[derive(Clone, Debug)]
pub struct Increment {
    /// Samples to compute.
    pub new: RecordBatch,
    /// Samples to recompute, with the fields that changed.
    pub stale: RecordBatch,
    /// Stored samples without upstream.
    pub orphaned: RecordBatch,
}

impl Increment {
    /// True when nothing needs work.
    pub fn is_empty(&self) -> bool {
        self.new.num_rows() == 0 && self.stale.num_rows() == 0 && self.orphaned.num_rows() == 0
    }

    /// `(new, stale, orphaned)` row counts.
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.new.num_rows(),
            self.stale.num_rows(),
            self.orphaned.num_rows(),
        )
    }
}

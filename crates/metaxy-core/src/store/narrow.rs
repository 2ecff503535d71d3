//! Narrowing a keep-latest read to the rows that can win, for stores that filter inside the
//! storage engine.
//!
//! A feature rewritten in full (a root whose every sample was re-written, the common way a
//! pipeline refreshes a source) holds two or more rows per sample, and only the newest write
//! is read back. On a SQL or lakehouse store, moving a row's strings out of the engine costs
//! far more than its ids and timestamps, so the read first scans ids and stamps alone, finds
//! the least stamp among the winners, and then reads the full rows only from that stamp on
//! (`coalesce(metaxy_deleted_at, metaxy_updated_at) >= least`): every winner is among them,
//! and keep-latest over them picks the same rows as over the whole table. A table whose rows
//! share one stamp (written once), or whose winners span most of it (samples added write by
//! write), is read whole as before: the first scan is then the only extra cost.
//!
//! The narrowed result is checked against the first scan (number of winners and a checksum of
//! their stamps); a store that evaluated the filter differently is read again whole.

use arrow_array::RecordBatch;

use super::dedup::{self, Order};
use crate::columns::{DELETED_AT, UPDATED_AT};
use crate::error::Result;
use crate::filter::{CmpOp, Expr, Scalar};

/// Narrow only when the rows from the winners' least stamp on are at most this share of the
/// table (in quarters): reading three quarters of a table twice over is not worth a scan.
const AT_MOST_QUARTERS: usize = 3;

/// Where the winners of a table lie by stamp (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Narrowing {
    /// The least `coalesce(deleted_at, updated_at)` among the winners.
    least: i64,
    /// Whether the table has a `metaxy_deleted_at` column.
    has_deleted: bool,
    /// The number of winners.
    winners: usize,
    /// The wrapping sum of the winners' stamps.
    checksum: u64,
}

impl Narrowing {
    /// The narrowing of a table read as `parts` of its id columns, `metaxy_updated_at` and
    /// `metaxy_deleted_at`; `None` when a narrowed read would not read markedly fewer rows,
    /// or when two rows of a sample tie on their stamp (that is decided on the full rows).
    pub(super) fn of(
        parts: &[RecordBatch],
        id_columns: &[String],
        what: &str,
    ) -> Result<Option<Narrowing>> {
        let parts: Vec<RecordBatch> = parts.iter().filter(|p| p.num_rows() > 0).cloned().collect();
        let Some(first) = parts.first() else {
            return Ok(None);
        };
        if first.column_by_name(UPDATED_AT).is_none() {
            return Ok(None);
        }
        let has_deleted = first.column_by_name(DELETED_AT).is_some();
        let orders = parts.iter().map(Order::of).collect::<Result<Vec<_>>>()?;
        // rows of one stamp (a table written once): nothing to leave out
        let constant: Option<Vec<i64>> = orders
            .iter()
            .map(|o| o.constant_stamp().map(|s| s.0))
            .collect();
        if constant.is_some_and(|s| s.windows(2).all(|w| w[0] == w[1])) {
            return Ok(None);
        }
        let Some(winners) = dedup::keep_latest_unless_tied(&parts, id_columns, what)? else {
            return Ok(None);
        };
        let (count, checksum, least) = summary(&winners)?;
        if least == i64::MIN {
            return Ok(None);
        }
        let total: usize = parts.iter().map(|p| p.num_rows()).sum();
        let kept: usize = orders
            .iter()
            .map(|o| o.stamps().filter(|(s, _)| *s >= least).count())
            .sum();
        if kept * 4 > total * AT_MOST_QUARTERS {
            return Ok(None);
        }
        Ok(Some(Narrowing {
            least,
            has_deleted,
            winners: count,
            checksum,
        }))
    }

    /// The filter of the narrowed read: `coalesce(deleted_at, updated_at) >= least`, spelled
    /// with comparisons every store pushes down.
    pub(super) fn filter(&self) -> Expr {
        let at_least = |column: &str| Expr::Compare {
            op: CmpOp::GtEq,
            left: Box::new(Expr::Column(column.to_string())),
            right: Box::new(Expr::Literal(Scalar::Timestamp(self.least))),
        };
        if !self.has_deleted {
            return at_least(UPDATED_AT);
        }
        let live = Expr::IsNull {
            expr: Box::new(Expr::Column(DELETED_AT.to_string())),
            negated: false,
        };
        Expr::Or(
            Box::new(at_least(DELETED_AT)),
            Box::new(Expr::And(Box::new(live), Box::new(at_least(UPDATED_AT)))),
        )
    }

    /// Whether `latest` (keep-latest of the narrowed read) holds the winners this narrowing
    /// was computed from: as many rows, with the same stamps.
    pub(super) fn matches(&self, latest: &RecordBatch) -> Result<bool> {
        let (count, checksum, _) = summary(latest)?;
        Ok(count == self.winners && checksum == self.checksum)
    }
}

/// `(rows, wrapping sum of stamps, least stamp)` of a deduplicated batch.
fn summary(batch: &RecordBatch) -> Result<(usize, u64, i64)> {
    let order = Order::of(batch)?;
    let (mut sum, mut least) = (0u64, i64::MAX);
    for (stamp, _) in order.stamps() {
        sum = sum.wrapping_add(stamp as u64);
        least = least.min(stamp);
    }
    Ok((batch.num_rows(), sum, least))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use arrow_array::{ArrayRef, TimestampMicrosecondArray, UInt64Array};
    use arrow_schema::{DataType, Field, Schema, TimeUnit};

    use super::*;

    /// One write: `ids` at `at`, tombstones where `deleted`.
    fn write(ids: &[u64], at: i64, deleted: bool) -> RecordBatch {
        let ts = |v: Option<i64>| -> ArrayRef {
            Arc::new(TimestampMicrosecondArray::from(vec![v; ids.len()]).with_timezone("UTC"))
        };
        let tz = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("id", DataType::UInt64, false),
                Field::new(UPDATED_AT, tz.clone(), true),
                Field::new(DELETED_AT, tz, true),
            ])),
            vec![
                Arc::new(UInt64Array::from(ids.to_vec())),
                ts(Some(at)),
                ts(deleted.then_some(at)),
            ],
        )
        .unwrap()
    }

    fn of(parts: &[RecordBatch]) -> Option<Narrowing> {
        Narrowing::of(parts, &["id".to_string()], "test").unwrap()
    }

    #[test]
    fn a_full_rewrite_narrows_to_the_newest_write() {
        let ids: Vec<u64> = (0..100).collect();
        let parts = [write(&ids, 10, false), write(&ids, 20, false)];
        let n = of(&parts).unwrap();
        assert_eq!((n.least, n.winners), (20, 100));
        // the filter keeps exactly the second write, whose keep-latest matches
        let kept: Vec<RecordBatch> = parts
            .iter()
            .map(|p| n.filter().filter(p).unwrap())
            .collect();
        assert_eq!(kept[0].num_rows(), 0);
        assert_eq!(kept[1].num_rows(), 100);
        assert!(n.matches(&kept[1]).unwrap());
        // a result missing a winner, or with an older row in its place, does not match
        assert!(!n.matches(&kept[1].slice(0, 99)).unwrap());
        assert!(!n.matches(&parts[0]).unwrap());
    }

    #[test]
    fn tombstones_count_by_their_deletion_time() {
        let ids: Vec<u64> = (0..100).collect();
        let parts = [
            write(&ids, 10, false),
            write(&ids[..50], 20, false),
            write(&ids[50..], 30, true),
        ];
        let n = of(&parts).unwrap();
        assert_eq!((n.least, n.winners), (20, 100));
        let kept: usize = parts
            .iter()
            .map(|p| n.filter().filter(p).unwrap().num_rows())
            .sum();
        assert_eq!(kept, 100);
    }

    #[test]
    fn tables_that_would_be_read_mostly_anyway_are_not_narrowed() {
        let ids: Vec<u64> = (0..100).collect();
        // one write; one stamp over several writes
        assert_eq!(of(&[write(&ids, 10, false)]), None);
        assert_eq!(
            of(&[write(&ids[..50], 10, false), write(&ids[50..], 10, false)]),
            None
        );
        // new samples write by write: every write holds winners
        assert_eq!(
            of(&[write(&ids[..50], 10, false), write(&ids[50..], 20, false)]),
            None
        );
        // a rewrite of a fifth of the samples: the winners span both writes
        assert_eq!(
            of(&[write(&ids, 10, false), write(&ids[..20], 20, false)]),
            None
        );
        // a tie of stamps is left to the full read
        assert_eq!(
            of(&[
                write(&ids, 10, false),
                write(&ids, 10, false),
                write(&ids, 5, false)
            ]),
            None
        );
        // no rows
        assert_eq!(of(&[write(&[], 10, false)]), None);
    }
}

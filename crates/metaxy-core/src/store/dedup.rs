//! Keep-latest-by-group (reference 4.5): per sample, the row with the greatest
//! `coalesce(metaxy_deleted_at, metaxy_updated_at)` wins.
//!
//! Ties (possible only between processes writing the same sample in the same microsecond)
//! resolve deterministically to one whole row: a tombstone beats a live row, then the greater
//! `metaxy_provenance`, then the row read last. A read that does not need the provenance
//! itself may scan without it ([`latest_pieces_unless_tied`]) and scan again in the rare case
//! of a tie: on a SQL store that string column is a large share of an upstream's scan.

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{Array, ArrayRef, PrimitiveArray, RecordBatch, StringArray};
use arrow_buffer::{BooleanBufferBuilder, ScalarBuffer};
use arrow_schema::{DataType, TimeUnit};

use crate::batches;
use crate::columns::{DELETED_AT, PROVENANCE, UPDATED_AT};
use crate::error::{Error, Result};
use crate::keys::{self, Grouping};

/// A timestamp column as microseconds (any time zone; other units are cast).
fn micros(batch: &RecordBatch, name: &str) -> Result<Option<ArrayRef>> {
    match batch.column_by_name(name) {
        None => Ok(None),
        Some(c) if matches!(c.data_type(), DataType::Timestamp(TimeUnit::Microsecond, _)) => {
            Ok(Some(c.clone()))
        }
        Some(c) => Ok(Some(arrow_cast::cast(
            c,
            &DataType::Timestamp(TimeUnit::Microsecond, None),
        )?)),
    }
}

/// `(coalesce(deleted_at, updated_at), is a tombstone)`: what keep-latest orders rows by.
type Stamp = (i64, bool);

/// Rows `first..end` of a part, all of one stamp.
type StampRun = (usize, usize, Stamp);

/// What keep-latest orders one part's rows by.
struct Order {
    rows: usize,
    updated: Option<ArrayRef>,
    deleted: Option<ArrayRef>,
    provenance: Option<ArrayRef>,
}

impl Order {
    fn of(batch: &RecordBatch) -> Result<Order> {
        let provenance = match batch.column_by_name(PROVENANCE) {
            Some(c) if c.data_type() == &DataType::Utf8 => Some(c.clone()),
            Some(c) => arrow_cast::cast(c, &DataType::Utf8).ok(),
            None => None,
        };
        Ok(Order {
            rows: batch.num_rows(),
            updated: micros(batch, UPDATED_AT)?,
            deleted: micros(batch, DELETED_AT)?,
            provenance,
        })
    }

    fn timestamps(a: &Option<ArrayRef>) -> Option<&PrimitiveArray<TimestampMicrosecondType>> {
        a.as_ref().and_then(|a| a.as_primitive_opt())
    }

    /// `(coalesce(deleted_at, updated_at), is a tombstone)` of every row.
    fn stamps(&self) -> impl Iterator<Item = (i64, bool)> + '_ {
        let updated = Self::timestamps(&self.updated);
        let deleted = Self::timestamps(&self.deleted);
        (0..self.rows).map(move |row| {
            let del = deleted.filter(|d| d.is_valid(row)).map(|d| d.value(row));
            let upd = updated.filter(|u| u.is_valid(row)).map(|u| u.value(row));
            (del.or(upd).unwrap_or(i64::MIN), del.is_some())
        })
    }

    /// The part's rows as runs of one stamp, `(first row, end, stamp)`, when there are at
    /// most `max` runs (a part that is one write, or a chunk spanning a few writes); `None`
    /// otherwise.
    fn stamp_runs(&self, max: usize) -> Option<Vec<StampRun>> {
        let deleted = Self::timestamps(&self.deleted);
        let no_tombstones = deleted.is_none_or(|d| d.null_count() == d.len());
        match Self::timestamps(&self.updated) {
            // the usual case: one stamp column without NULLs, read as it lies
            Some(u) if no_tombstones && u.null_count() == 0 => {
                runs_of(u.values().iter().map(|v| (*v, false)), max)
            }
            _ => runs_of(self.stamps(), max),
        }
    }

    fn provenance(&self, row: usize) -> Option<&str> {
        let p: &StringArray = self.provenance.as_ref()?.as_string_opt()?;
        p.is_valid(row).then(|| p.value(row))
    }
}

/// Consecutive equal `stamps` as runs, or `None` past `max` runs.
fn runs_of(stamps: impl Iterator<Item = Stamp>, max: usize) -> Option<Vec<StampRun>> {
    let mut runs: Vec<StampRun> = Vec::new();
    for (row, stamp) in stamps.enumerate() {
        match runs.last_mut() {
            Some(last) if last.2 == stamp => last.1 = row + 1,
            _ => {
                if runs.len() == max {
                    return None;
                }
                runs.push((row, row + 1, stamp));
            }
        }
    }
    Some(runs)
}

/// What [`keep_latest`] does with a tie of stamps when the parts have no
/// `metaxy_provenance` column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OnTie {
    /// Decide it anyway (the row read last wins): the table has no provenance to read.
    Decide,
    /// Give up (`Ok(None)`): the caller left the provenance out of its scan and scans again
    /// with it.
    NeedsProvenance,
}

/// The latest row of every group of `id_columns` over `parts` — the pieces a table was read
/// in (its appends, a backend's chunks), all of one schema — as pieces of one schema.
///
/// The parts are deduplicated where they lie: only the winning rows are copied, and when the
/// winners are every row, or one run of rows (a feature rewritten in full, or written once in
/// id order), they are returned as the parts (or slices of them) they lie in, not copied at
/// all: a caller that can read pieces (the engine reading an upstream) never concatenates
/// them, and one that needs a single batch concatenates once ([`batches::concat_parts`]).
///
/// `output` names the columns to return (`None`: all of them; a named column the parts lack is
/// left out, for the caller to report): the columns keep-latest only orders by are not copied
/// when the caller drops them afterwards.
pub(crate) fn latest_pieces(
    parts: &[RecordBatch],
    id_columns: &[String],
    output: Option<&[String]>,
    what: &str,
) -> Result<Vec<RecordBatch>> {
    keep_latest(parts, id_columns, output, what, OnTie::Decide)?
        .ok_or_else(|| Error::InvalidArgument(format!("{what}: keep-latest left a tie undecided")))
}

/// [`latest_pieces`] of parts read without `metaxy_provenance`: `None` when two rows of a
/// sample tie on their stamp, so that the caller reads again with the provenance.
pub(crate) fn latest_pieces_unless_tied(
    parts: &[RecordBatch],
    id_columns: &[String],
    output: Option<&[String]>,
    what: &str,
) -> Result<Option<Vec<RecordBatch>>> {
    keep_latest(parts, id_columns, output, what, OnTie::NeedsProvenance)
}

/// Which rows of a set of parts keep-latest keeps.
enum Winners {
    /// Every row: no sample has two rows.
    All,
    /// For each sample (slot), the row (numbered across the parts) that wins, or NONE for a
    /// slot no row maps to; `tied` when some sample's winner shares its stamp with another of
    /// its rows (decided by the provenance, else by the row read last).
    Slots { best: Vec<u32>, tied: bool },
}

/// The keep-latest winners of `parts` (at least two rows, all of one schema).
fn winners(parts: &[RecordBatch], id_columns: &[String], what: &str) -> Result<Winners> {
    let total: usize = parts.iter().map(|p| p.num_rows()).sum();
    // Row numbers are u32 with NONE reserved.
    if total >= NONE as usize {
        return Err(Error::InvalidArgument(format!(
            "{what}: {total} rows is more than one read can deduplicate ({NONE}); \
             read fewer samples at a time with a filter on the id columns"
        )));
    }
    let key_arrays = parts
        .iter()
        .map(|p| keys::key_arrays(p, id_columns, what))
        .collect::<Result<Vec<_>>>()?;
    let starts = part_starts(parts);
    let orders = || parts.iter().map(Order::of).collect::<Result<Vec<_>>>();
    let mut tied = false;

    // One integer id column (the common case): its values as they lie in each part.
    let ints: Option<Vec<ScalarBuffer<u64>>> = key_arrays
        .iter()
        .map(|k| match k.as_slice() {
            [one] => keys::int_values(one),
            _ => None,
        })
        .collect();
    let best = match &ints {
        Some(ints) if strictly_increasing(ints) => {
            // ids written in order, each once: nothing to deduplicate, no grouping needed
            return Ok(Winners::All);
        }
        Some(ints) if let Some((min, span)) = keys::dense_range(ints) => {
            // ids numbered densely from some offset: a slot per id, no grouping of rows
            let orders = orders()?;
            let slot = |p: usize, local: usize, _| (ints[p][local] - min) as usize;
            match latest_by_part_stamp(&orders, &starts, span, slot, &mut tied) {
                Some(best) => best,
                None => latest_per_slot(&orders, &starts, span, slot, &mut tied),
            }
        }
        _ => {
            let enc = keys::encode_parts(&key_arrays)?;
            let grouping = Grouping::new(&enc);
            if grouping.num_groups() == total {
                return Ok(Winners::All);
            }
            let orders = orders()?;
            let groups = grouping.num_groups();
            let slot = |_, _, row: usize| grouping.group_of_row[row] as usize;
            match latest_by_part_stamp(&orders, &starts, groups, slot, &mut tied) {
                Some(best) => best,
                None => latest_per_slot(&orders, &starts, groups, slot, &mut tied),
            }
        }
    };
    Ok(Winners::Slots { best, tied })
}

/// The rows keep-latest keeps of `parts` — the pieces a table was read in, all of one schema,
/// with the id columns, `metaxy_updated_at` and (if the table has it) `metaxy_deleted_at` —
/// numbered across the parts, in row order; `None` when it may keep every row, or when two
/// rows of a sample share their stamp (the winner then depends on columns such a narrow read
/// leaves out).
///
/// A backend that reads a wide table in two passes uses this: the narrow columns of every
/// row first, then the wide columns of only these rows (see [`ScanRequest::latest_of`]).
///
/// [`ScanRequest::latest_of`]: crate::backend::ScanRequest::latest_of
pub fn latest_rows(parts: &[RecordBatch], id_columns: &[String]) -> Result<Option<Vec<u32>>> {
    let total: usize = parts.iter().map(|p| p.num_rows()).sum();
    if total <= 1 {
        return Ok(None);
    }
    match winners(parts, id_columns, "latest_rows")? {
        Winners::All | Winners::Slots { tied: true, .. } => Ok(None),
        Winners::Slots { best, tied: false } => {
            let kept = in_row_order(&best, total);
            Ok((kept.len() < total).then_some(kept))
        }
    }
}

/// [`latest_pieces`], giving up on a tie it cannot break when `on_tie` says so.
fn keep_latest(
    all_parts: &[RecordBatch],
    id_columns: &[String],
    output: Option<&[String]>,
    what: &str,
    on_tie: OnTie,
) -> Result<Option<Vec<RecordBatch>>> {
    let Some(first) = all_parts.first() else {
        return Err(Error::InvalidArgument(format!(
            "{what}: the backend returned no batch for an existing table"
        )));
    };
    // the parts as returned: only the output columns (no copy, the arrays are shared)
    let parts: Vec<RecordBatch> = match output {
        None => all_parts.to_vec(),
        Some(columns) => all_parts
            .iter()
            .map(|p| batches::project_existing(p, columns))
            .collect::<Result<Vec<_>>>()?,
    };
    let total: usize = parts.iter().map(|p| p.num_rows()).sum();
    if total <= 1 {
        return Ok(Some(parts));
    }
    let (best, tied) = match winners(all_parts, id_columns, what)? {
        Winners::All => return Ok(Some(parts)),
        Winners::Slots { best, tied } => (best, tied),
    };
    if tied
        && on_tie == OnTie::NeedsProvenance
        && first.schema().column_with_name(PROVENANCE).is_none()
    {
        return Ok(None);
    }
    let (count, lo, hi) = winners_span(&best);
    if count == total {
        return Ok(Some(parts));
    }
    if count > 0 && (hi - lo) as usize + 1 == count {
        // The winners are one run of rows (a feature rewritten in full, the latest write
        // winning everywhere): slices of the parts that hold it, not a row-by-row gather.
        let (lo, hi) = (lo as usize, hi as usize + 1);
        let slices: Vec<RecordBatch> = parts
            .iter()
            .zip(part_starts(&parts))
            .filter_map(|(part, start)| {
                let from = lo.max(start);
                let to = hi.min(start + part.num_rows());
                (from < to).then(|| part.slice(from - start, to - from))
            })
            .collect();
        return Ok(Some(slices));
    }
    let starts = part_starts(&parts);
    let picks: Vec<(usize, usize)> = in_row_order(&best, total)
        .iter()
        .map(|r| locate(&starts, *r as usize))
        .collect();
    Ok(Some(vec![
        arrow_select::interleave::interleave_record_batch(
            &parts.iter().collect::<Vec<_>>(),
            &picks,
        )?,
    ]))
}

/// The row number (across the parts) of each part's first row.
fn part_starts(parts: &[RecordBatch]) -> Vec<usize> {
    parts
        .iter()
        .scan(0, |acc, p| {
            let s = *acc;
            *acc += p.num_rows();
            Some(s)
        })
        .collect()
}

/// A row number not taken by any row.
const NONE: u32 = u32::MAX;

/// Whether the ids of all parts, read in order, are strictly increasing (so each is distinct).
fn strictly_increasing(parts: &[ScalarBuffer<u64>]) -> bool {
    // where the parts meet first (a rewrite fails here at once), then every row
    let ends: Vec<(u64, u64)> = parts
        .iter()
        .filter_map(|p| Some((*p.first()?, *p.last()?)))
        .collect();
    ends.windows(2).all(|w| w[0].1 < w[1].0)
        && parts.iter().all(|p| p.windows(2).all(|w| w[0] < w[1]))
}

/// `(part, row within it)` of row `row` of the parts read as one frame.
fn locate(starts: &[usize], row: usize) -> (usize, usize) {
    let part = starts.partition_point(|s| *s <= row).saturating_sub(1);
    (part, row - starts[part])
}

/// Whether row `local` of `order` beats row `best` (numbered across the parts) of the same
/// stamp: the greater provenance wins, then the row read last.
fn wins_tie(orders: &[Order], starts: &[usize], order: &Order, local: usize, best: u32) -> bool {
    let (bp, bl) = locate(starts, best as usize);
    order.provenance(local) >= orders[bp].provenance(bl)
}

/// For each of `slots` samples, the row (numbered across the parts) that wins keep-latest, or
/// NONE for a slot no row maps to. `slot_of(part, local row, row)` is a row's sample; `tied`
/// is set when two rows of a slot share a stamp.
fn latest_per_slot(
    orders: &[Order],
    starts: &[usize],
    slots: usize,
    slot_of: impl Fn(usize, usize, usize) -> usize,
    tied: &mut bool,
) -> Vec<u32> {
    let mut best: Vec<u32> = vec![NONE; slots];
    let mut best_stamp: Vec<(i64, bool)> = vec![(i64::MIN, false); slots];
    let mut row = 0usize;
    for (p, order) in orders.iter().enumerate() {
        for (local, stamp) in order.stamps().enumerate() {
            let g = slot_of(p, local, row);
            let wins = if best[g] == NONE || stamp > best_stamp[g] {
                true
            } else if stamp == best_stamp[g] {
                *tied = true;
                wins_tie(orders, starts, order, local, best[g])
            } else {
                false
            };
            if wins {
                best[g] = row as u32;
                best_stamp[g] = stamp;
            }
            row += 1;
        }
    }
    best
}

/// [`latest_per_slot`] when the rows come in long runs of one stamp (each part a write, or
/// a chunk of one or of a few — the usual shape of an append-only table): the runs are visited
/// from the oldest stamp to the newest and a row of a newer stamp simply takes the slot, so
/// only the stamp's rank is kept per slot and no stamp is compared per row. Rows of one stamp
/// that meet in a slot tie as in `latest_per_slot` (runs of one stamp are visited in the order
/// they were read). `None` when some part's stamps change too often.
fn latest_by_part_stamp(
    orders: &[Order],
    starts: &[usize],
    slots: usize,
    slot_of: impl Fn(usize, usize, usize) -> usize,
    tied: &mut bool,
) -> Option<Vec<u32>> {
    let mut visit: Vec<(Stamp, usize, usize, usize)> = Vec::with_capacity(orders.len());
    for (p, order) in orders.iter().enumerate() {
        for (from, to, stamp) in order.stamp_runs(order.rows / 64 + 1)? {
            visit.push((stamp, p, from, to));
        }
    }
    // stable: runs of one stamp keep their read order
    visit.sort_by_key(|(stamp, ..)| *stamp);
    let mut best: Vec<u32> = vec![NONE; slots];
    let mut best_rank: Vec<u32> = vec![0; slots];
    let mut rank = 0u32;
    for (i, &(stamp, p, from, to)) in visit.iter().enumerate() {
        if i > 0 && visit[i - 1].0 != stamp {
            rank += 1;
        }
        let order = &orders[p];
        let start = starts[p];
        for local in from..to {
            let row = start + local;
            let g = slot_of(p, local, row);
            let current = best[g];
            let wins = if current != NONE && best_rank[g] == rank {
                *tied = true;
                wins_tie(orders, starts, order, local, current)
            } else {
                true
            };
            if wins {
                best[g] = row as u32;
                best_rank[g] = rank;
            }
        }
    }
    Some(best)
}

/// `(winners, first, last)` row numbers of a keep-latest result.
fn winners_span(best: &[u32]) -> (usize, u32, u32) {
    best.iter()
        .filter(|&&b| b != NONE)
        .fold((0, u32::MAX, 0), |(n, lo, hi), &b| {
            (n + 1, lo.min(b), hi.max(b))
        })
}

/// The winning rows of [`latest_per_slot`] in row order (a pass over a bitmap of `total` rows
/// instead of a sort).
fn in_row_order(best: &[u32], total: usize) -> Vec<u32> {
    let mut marked = BooleanBufferBuilder::new(total);
    marked.append_n(total, false);
    for &b in best {
        if b != NONE {
            marked.set_bit(b as usize, true);
        }
    }
    marked.finish().set_indices().map(|i| i as u32).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use arrow_array::{Int64Array, TimestampMicrosecondArray};

    use super::*;

    fn batch(ids: &[i64], updated: &[i64]) -> RecordBatch {
        RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef),
            (
                UPDATED_AT,
                Arc::new(TimestampMicrosecondArray::from(updated.to_vec())) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    /// [`latest_pieces`] as one batch, as a reader that needs one would concatenate it.
    fn keep_latest_parts(
        parts: &[RecordBatch],
        id_columns: &[String],
        output: Option<&[String]>,
        what: &str,
    ) -> Result<RecordBatch> {
        batches::concat_parts(&latest_pieces(parts, id_columns, output, what)?)
    }

    fn rows(out: &RecordBatch) -> Vec<(i64, i64)> {
        let ids = out
            .column(0)
            .as_primitive::<arrow_array::types::Int64Type>();
        let ts = out.column(1).as_primitive::<TimestampMicrosecondType>();
        (0..out.num_rows())
            .map(|i| (ids.value(i), ts.value(i)))
            .collect()
    }

    fn latest(ids: &[i64], updated: &[i64]) -> Vec<(i64, i64)> {
        let b = batch(ids, updated);
        rows(
            &keep_latest_parts(std::slice::from_ref(&b), &["id".to_string()], None, "test")
                .unwrap(),
        )
    }

    #[test]
    fn the_latest_row_wins_whether_the_winners_are_one_run_or_scattered() {
        // a full rewrite: the winners are the last run of rows (the zero-copy path)
        assert_eq!(latest(&[1, 2, 1, 2], &[1, 1, 2, 2]), vec![(1, 2), (2, 2)]);
        // scattered winners (the gathering path), in their original row order
        assert_eq!(latest(&[1, 2, 1, 2], &[5, 1, 2, 7]), vec![(1, 5), (2, 7)]);
        assert_eq!(
            latest(&[3, 1, 3, 2, 1], &[1, 9, 4, 1, 2]),
            vec![(1, 9), (3, 4), (2, 1)]
        );
        // ids in order, each once: returned as they are
        assert_eq!(latest(&[1, 2, 3], &[3, 2, 1]), vec![(1, 3), (2, 2), (3, 1)]);
    }

    /// A part of one write: every row stamped `at` (a tombstone when `deleted`).
    fn write(ids: &[i64], provenance: &[&str], at: i64, deleted: bool) -> RecordBatch {
        let n = ids.len();
        let stamp = |on: bool| {
            Arc::new(if on {
                TimestampMicrosecondArray::from(vec![at; n])
            } else {
                TimestampMicrosecondArray::new_null(n)
            }) as ArrayRef
        };
        RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef),
            (UPDATED_AT, stamp(true)),
            (DELETED_AT, stamp(deleted)),
            (
                PROVENANCE,
                Arc::new(StringArray::from(provenance.to_vec())) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    #[test]
    fn whole_writes_are_visited_by_stamp_and_agree_with_row_by_row() {
        let id = ["id".to_string()];
        // written out of stamp order, a tombstone, and ties inside one write (the greater
        // provenance wins, then the row read last)
        let parts = [
            write(&[0, 1, 2, 0, 2], &["b", "x", "y", "a", "y"], 5, false),
            write(&[1, 3], &["p", "q"], 3, false),
            write(&[2], &["z"], 9, true),
            write(&[3, 4], &["r", "s"], 4, false),
        ];
        let out = keep_latest_parts(&parts, &id, None, "test").unwrap();
        let all = batches::concat_parts(&parts).unwrap();
        // one part with differing stamps is kept row by row: the same rows must win
        let row_by_row = keep_latest_parts(std::slice::from_ref(&all), &id, None, "test").unwrap();
        assert_eq!(out.columns(), row_by_row.columns());
        let provenance: Vec<&str> = out.column(3).as_string::<i32>().iter().flatten().collect();
        // id 0: "b" beats "a" in a tie; id 1: stamp 5 beats 3; id 2: the tombstone at 9;
        // id 3: stamp 4 beats 3; id 4 once
        assert_eq!(provenance, ["b", "x", "z", "r", "s"]);
        // parts of one stamp (a backend's chunks of one write) tie across parts: the greater
        // provenance, then the row read last
        for (provenance, wins) in [(["a", "b"], "b"), (["b", "a"], "b"), (["c", "c"], "c")] {
            let chunks = [
                write(&[1, 0], &["x", provenance[0]], 1, false),
                write(&[0, 2], &[provenance[1], "y"], 1, false),
                write(&[0], &["0"], 0, false),
            ];
            let out = keep_latest_parts(&chunks, &id, None, "test").unwrap();
            let all = batches::concat_parts(&chunks).unwrap();
            let row_by_row =
                keep_latest_parts(std::slice::from_ref(&all), &id, None, "test").unwrap();
            assert_eq!(out.columns(), row_by_row.columns());
            assert_eq!(out.column(3).as_string::<i32>().value(1), wins);
        }
    }

    /// Only the output columns are copied, and they hold the rows keep-latest of every column
    /// keeps: when every row wins, when the winners are one run, when they are picked row by
    /// row, and when a tie is broken by a provenance left out of the output.
    #[test]
    fn the_output_columns_hold_the_rows_the_whole_read_keeps() {
        let id = ["id".to_string()];
        let output = [
            "id".to_string(),
            PROVENANCE.to_string(),
            "absent".to_string(),
        ];
        let cases = [
            // every row wins
            vec![
                write(&[0, 1], &["a", "b"], 1, false),
                write(&[2], &["c"], 2, false),
            ],
            // a full rewrite: one run of the second write
            vec![
                write(&[0, 1, 2], &["a", "b", "c"], 1, false),
                write(&[0, 1, 2], &["d", "e", "f"], 2, false),
            ],
            // a partial rewrite and a tombstone: picked row by row
            vec![
                write(&[0, 1, 2], &["a", "b", "c"], 1, false),
                write(&[2, 0], &["x", "y"], 2, false),
                write(&[1], &["z"], 3, true),
            ],
            // a tie of stamps, broken by the provenance (the greater wins)
            vec![
                write(&[0, 1], &["a", "m"], 1, false),
                write(&[1], &["b"], 1, false),
            ],
        ];
        for parts in cases {
            let whole = keep_latest_parts(&parts, &id, None, "test").unwrap();
            let out = keep_latest_parts(&parts, &id, Some(&output), "test").unwrap();
            let names: Vec<&str> = out
                .schema_ref()
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect();
            assert_eq!(names, ["id", PROVENANCE]);
            assert_eq!(out.column(0), whole.column(0));
            assert_eq!(out.column(1), whole.column(3));
            let without_provenance = [id[0].clone()];
            let ids_only =
                keep_latest_parts(&parts, &id, Some(&without_provenance), "test").unwrap();
            assert_eq!(ids_only.num_columns(), 1);
            assert_eq!(ids_only.column(0), whole.column(0));
        }
    }

    #[test]
    fn parts_are_deduplicated_as_if_concatenated() {
        let id = ["id".to_string()];
        let dedup =
            |parts: &[RecordBatch]| rows(&keep_latest_parts(parts, &id, None, "test").unwrap());
        // a full rewrite in a second append: the second part, as it is
        let full = [batch(&[0, 1, 2], &[1, 1, 1]), batch(&[0, 1, 2], &[2, 2, 2])];
        assert_eq!(dedup(&full), vec![(0, 2), (1, 2), (2, 2)]);
        // a partial rewrite: winners from both parts, in concatenated row order
        let partial = [batch(&[0, 1, 2], &[1, 1, 1]), batch(&[2, 0], &[2, 0])];
        assert_eq!(dedup(&partial), vec![(0, 1), (1, 1), (2, 2)]);
        // every part agrees with deduplicating the concatenation, for many splits
        let ids: Vec<i64> = (0..40).map(|i| (i * 7) % 13).collect();
        let ts: Vec<i64> = (0..40).map(|i| (i * 5) % 11).collect();
        let whole = latest(&ids, &ts);
        for cut in [1, 7, 13, 20, 39] {
            let parts = [
                batch(&ids[..cut], &ts[..cut]),
                batch(&ids[cut..], &ts[cut..]),
            ];
            assert_eq!(dedup(&parts), whole, "cut at {cut}");
        }
        // ties across parts: the row read last wins
        let spread = [
            batch(&[0, 1], &[1, 1]),
            batch(&[2, 0], &[1, 2]),
            batch(&[1, 2], &[2, 2]),
        ];
        // the winners are one run across the last two parts (sliced and concatenated)
        assert_eq!(dedup(&spread), vec![(0, 2), (1, 2), (2, 2)]);
        // the same cuts with ids far apart (grouped by hashing) and with text ids (row
        // encoding) pick the same rows as the dense slot table
        let spread_ids = |f: &dyn Fn(&[i64]) -> ArrayRef, cut: usize| {
            let part = |r: std::ops::Range<usize>| {
                RecordBatch::try_from_iter(vec![
                    ("id", f(&ids[r.clone()])),
                    (
                        UPDATED_AT,
                        Arc::new(TimestampMicrosecondArray::from(ts[r].to_vec())) as ArrayRef,
                    ),
                ])
                .unwrap()
            };
            let out = keep_latest_parts(&[part(0..cut), part(cut..ids.len())], &id, None, "test")
                .unwrap();
            out.column(1)
                .as_primitive::<TimestampMicrosecondType>()
                .values()
                .to_vec()
        };
        let sparse = |v: &[i64]| {
            Arc::new(Int64Array::from_iter_values(
                v.iter().map(|i| i * 1_000_000_000_000),
            )) as ArrayRef
        };
        let text = |v: &[i64]| {
            Arc::new(StringArray::from_iter_values(
                v.iter().map(|i| format!("s{i}")),
            )) as ArrayRef
        };
        let expected: Vec<i64> = whole.iter().map(|(_, t)| *t).collect();
        for cut in [1, 7, 20] {
            assert_eq!(
                spread_ids(&sparse, cut),
                expected,
                "sparse ids, cut at {cut}"
            );
            assert_eq!(spread_ids(&text, cut), expected, "text ids, cut at {cut}");
        }
        let tie = [batch(&[5], &[3]), batch(&[5], &[3])];
        let out = keep_latest_parts(&tie, &id, None, "test").unwrap();
        assert_eq!(out.num_rows(), 1);
        assert!(keep_latest_parts(&[], &id, None, "test").is_err());
    }

    /// Parts whose stamps come in runs (chunks spanning several writes, out of stamp order,
    /// with tombstones and ties) keep the same rows as the definition: per id the greatest
    /// `(stamp, tombstone, provenance, row read last)`.
    #[test]
    fn runs_of_stamps_inside_parts_keep_what_the_definition_keeps() {
        // long runs (visited run by run) and short ones (compared row by row)
        for (n, run) in [(6000, 500), (600, 50)] {
            runs_of_stamps_keep_the_definition(n, run);
        }
    }

    fn runs_of_stamps_keep_the_definition(n: usize, run: usize) {
        let ids: Vec<i64> = (0..n).map(|i| ((i * 37) % 97) as i64).collect();
        // runs of `run` rows, stamps out of order, some repeating (ties across runs)
        let stamps: Vec<i64> = (0..n)
            .map(|i| [3, 1, 4, 1, 5, 9, 2, 6][i / run % 8])
            .collect();
        let deleted: Vec<bool> = (0..n).map(|i| i / run == 5).collect();
        let provenance: Vec<String> = (0..n).map(|i| format!("p{}", (i * 13) % 7)).collect();
        let part = |r: std::ops::Range<usize>| {
            let upd: Vec<i64> = r.clone().map(|i| stamps[i]).collect();
            let del: Vec<Option<i64>> =
                r.clone().map(|i| deleted[i].then_some(stamps[i])).collect();
            RecordBatch::try_from_iter(vec![
                (
                    "id",
                    Arc::new(Int64Array::from(ids[r.clone()].to_vec())) as ArrayRef,
                ),
                (
                    UPDATED_AT,
                    Arc::new(TimestampMicrosecondArray::from(upd)) as ArrayRef,
                ),
                (
                    DELETED_AT,
                    Arc::new(TimestampMicrosecondArray::from(del)) as ArrayRef,
                ),
                (
                    PROVENANCE,
                    Arc::new(StringArray::from_iter_values(
                        provenance[r].iter().map(String::as_str),
                    )) as ArrayRef,
                ),
            ])
            .unwrap()
        };
        let mut want: Vec<usize> = Vec::new();
        for id in 0..97 {
            let best = (0..n)
                .filter(|i| ids[*i] == id)
                .max_by_key(|i| (stamps[*i], deleted[*i], provenance[*i].clone(), *i));
            want.extend(best);
        }
        want.sort();
        let want: Vec<String> = want
            .iter()
            .map(|i| format!("{}:{}", ids[*i], provenance[*i]))
            .collect();
        let id = ["id".to_string()];
        for cuts in [
            vec![0, n],
            vec![0, n * 13 / 60, n * 48 / 60, n],
            vec![0, n / 24, n / 8, n / 2, n],
        ] {
            let parts: Vec<RecordBatch> = cuts.windows(2).map(|w| part(w[0]..w[1])).collect();
            let out = keep_latest_parts(&parts, &id, None, "test").unwrap();
            let got: Vec<String> = (0..out.num_rows())
                .map(|r| {
                    let i = out
                        .column(0)
                        .as_primitive::<arrow_array::types::Int64Type>();
                    let p: &StringArray = out.column(3).as_string();
                    format!("{}:{}", i.value(r), p.value(r))
                })
                .collect();
            assert_eq!(got, want, "{n} rows in runs of {run}, cuts {cuts:?}");
        }
    }

    #[test]
    fn latest_rows_are_the_rows_keep_latest_keeps() {
        let id = ["id".to_string()];
        // a full rewrite in a second append, and a partial one with a row out of order
        let full = [batch(&[0, 1, 2], &[1, 1, 1]), batch(&[0, 1, 2], &[2, 2, 2])];
        assert_eq!(latest_rows(&full, &id).unwrap(), Some(vec![3, 4, 5]));
        let partial = [batch(&[0, 1, 2], &[1, 1, 1]), batch(&[2, 0], &[2, 0])];
        assert_eq!(latest_rows(&partial, &id).unwrap(), Some(vec![0, 1, 3]));
        // every split of a shuffled history: the kept rows are exactly keep-latest's
        let ids: Vec<i64> = (0..40).map(|i| (i * 7) % 13).collect();
        let ts: Vec<i64> = (0..40).map(|i| i * 3 % 41).collect();
        let all = batch(&ids, &ts);
        for cut in [1, 13, 39] {
            let parts = [
                batch(&ids[..cut], &ts[..cut]),
                batch(&ids[cut..], &ts[cut..]),
            ];
            let rows_kept = latest_rows(&parts, &id).unwrap().unwrap();
            let picked: Vec<(i64, i64)> = rows_kept
                .iter()
                .map(|r| (ids[*r as usize], ts[*r as usize]))
                .collect();
            let kept = keep_latest_parts(std::slice::from_ref(&all), &id, None, "test").unwrap();
            assert_eq!(picked, rows(&kept), "cut at {cut}");
        }
        // nothing superseded, a tie of stamps, a single row: no narrowing
        assert_eq!(
            latest_rows(&[batch(&[3, 1, 2], &[1, 1, 1])], &id).unwrap(),
            None
        );
        assert_eq!(latest_rows(&[batch(&[1, 1], &[4, 4])], &id).unwrap(), None);
        assert_eq!(latest_rows(&[batch(&[1], &[4])], &id).unwrap(), None);
    }

    #[test]
    fn a_tie_without_provenance_asks_for_it_and_only_a_tie_does() {
        let id = ["id".to_string()];
        let lazy = |parts: &[RecordBatch]| {
            latest_pieces_unless_tied(parts, &id, None, "test")
                .map(|p| p.map(|p| batches::concat_parts(&p).unwrap()))
        };
        // ties across writes (both stamp paths: whole writes, and rows of mixed stamps)
        let tie = [batch(&[1, 5], &[3, 3]), batch(&[5], &[3])];
        assert!(lazy(&tie).unwrap().is_none());
        let mixed = [batch(&[1, 5, 5], &[2, 3, 3])];
        assert!(lazy(&mixed).unwrap().is_none());
        // duplicates with distinct stamps, and no duplicates: decided without provenance
        let rewrite = [batch(&[1, 5], &[3, 3]), batch(&[5, 1], &[4, 4])];
        assert_eq!(
            rows(&lazy(&rewrite).unwrap().unwrap()),
            vec![(5, 4), (1, 4)]
        );
        let mixed = [batch(&[1, 5, 5], &[2, 3, 4])];
        assert_eq!(rows(&lazy(&mixed).unwrap().unwrap()), vec![(1, 2), (5, 4)]);
        // with the provenance read, the same tie is decided by it (the greater wins)
        let with = [write(&[5], &["b"], 3, false), write(&[5], &["a"], 3, false)];
        let out = lazy(&with).unwrap().unwrap();
        let p: &StringArray = out.column_by_name(PROVENANCE).unwrap().as_string();
        assert_eq!(p.value(0), "b");
    }

    #[test]
    fn rows_that_all_win_or_win_as_one_run_come_back_where_they_lie() {
        let id = ["id".to_string()];
        // whether two batches' ids are the same memory (a piece returned, not copied)
        let same_buffer = |a: &RecordBatch, b: &RecordBatch| {
            let ids = |x: &RecordBatch| {
                let c = x.column(0).as_primitive::<arrow_array::types::Int64Type>();
                c.values().as_ptr()
            };
            ids(a) == ids(b)
        };
        // three chunks of one write, ids increasing: every row wins, the chunks are returned
        let chunks = [
            batch(&[1, 2], &[3, 3]),
            batch(&[4, 7], &[3, 3]),
            batch(&[9], &[3]),
        ];
        let pieces = latest_pieces(&chunks, &id, None, "test").unwrap();
        assert_eq!(pieces.len(), 3);
        for (piece, chunk) in pieces.iter().zip(&chunks) {
            assert_eq!(piece, chunk);
            assert!(same_buffer(piece, chunk), "a kept chunk was copied");
        }
        // a rewrite in two chunks after an older write: slices of the rewrite's chunks
        let parts = [
            batch(&[1, 2, 3], &[1, 1, 1]),
            batch(&[1, 2], &[2, 2]),
            batch(&[3], &[2]),
        ];
        let pieces = latest_pieces(&parts, &id, None, "test").unwrap();
        assert_eq!(pieces.len(), 2);
        assert_eq!(rows(&pieces[0]), vec![(1, 2), (2, 2)]);
        assert_eq!(rows(&pieces[1]), vec![(3, 2)]);
        assert!(same_buffer(&pieces[0], &parts[1]) && same_buffer(&pieces[1], &parts[2]));
        // scattered winners: gathered into one piece
        let scattered = [batch(&[1, 2, 3], &[1, 1, 1]), batch(&[2], &[2])];
        let pieces = latest_pieces(&scattered, &id, None, "test").unwrap();
        assert_eq!(pieces.len(), 1);
        assert_eq!(rows(&pieces[0]), vec![(1, 1), (3, 1), (2, 2)]);
    }
}

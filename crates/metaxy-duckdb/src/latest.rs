//! Two-pass scans of tables that later appends rewrote: narrow columns of every row first,
//! wide columns of the surviving rows only.
//!
//! An append-only table holds every version of a sample; a read keeps the latest
//! ([`ScanRequest::latest_of`](metaxy_core::ScanRequest::latest_of)). When a feature was
//! rewritten in full, half of its rows are superseded, and scanning their text (provenance,
//! data versions: most of a row's bytes, and what DuckDB spends most of a scan decompressing)
//! is wasted. So a large table with more than one write stamp is read as
//!
//! 1. the id columns and the timestamps of every matching row (and its row id, unless every
//!    row id between the least and the greatest matches, so that row `k` is row id
//!    `least + k`);
//! 2. the winners of keep-latest over those ([`metaxy_core::backend::latest_rows`]);
//! 3. the requested columns of the rows in the winners' row-id ranges only
//!    (`WHERE (filter) AND (rowid BETWEEN ? AND ? OR ...)`, which DuckDB prunes row groups by).
//!
//! A table whose newest write rewrote every sample (the common way a feature is recomputed)
//! needs no first pass. With one integer id column, the aggregates tell how many ids the
//! table spans; when the last that many row ids all match the filter and are stamped later
//! than every row before them, that range alone is read, and it is kept when its ids come
//! back strictly increasing — then it holds every id of the table exactly once, newer than
//! any other row. Otherwise the plan above follows.
//!
//! Both passes run in one transaction, so they see the same rows under the same row ids, and
//! the second pass must return exactly as many rows as the first found in its ranges. The
//! plan is given up (`Ok(None)`, the caller reads in one pass) whenever it would not pay or
//! cannot be checked: a small table, one write stamp, a tie of stamps, winners scattered over
//! many ranges or most of the rows, a column type the collector does not copy. The caller
//! deduplicates the result as it would a one-pass read, so a superset is never wrong.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch, downcast_integer};
use arrow_schema::{DataType, Field, FieldRef, Schema, TimeUnit};
use duckdb::Connection;
use duckdb::types::Value;
use metaxy_core::columns::{DELETED_AT, UPDATED_AT};
use metaxy_core::{Error, Result};

use crate::backend::db_err;
use crate::{collect, sql};

/// Tables with fewer matching rows are read in one pass (two DuckDB row groups).
const MIN_ROWS: i64 = 2 * 122_880;
/// At most this many row-id ranges in the second pass's filter.
const MAX_RANGES: usize = 64;
/// The second pass is taken only when it leaves out at least this share of the rows (in
/// percent). A chosen bound, not a measured break-even: the first pass copies the ids and
/// stamps of every row, so leaving out few rows cannot pay for it.
const MIN_SKIPPED_PERCENT: usize = 25;

/// How a hinted scan read the rows keep-latest may keep (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// The newest write held every sample: its row-id range alone was read.
    NewestWrite,
    /// Ids and stamps of every row first, then the winners' row-id ranges.
    TwoPasses,
}

/// Reads `fields` of the rows of `table` matching `filter` that keep-latest over `id_columns`
/// may keep, in two passes or from the newest write alone (see the module docs); `Ok(None)`
/// when the caller should read in one pass instead.
pub(crate) fn scan(
    conn: &Connection,
    table: &str,
    schema: &Schema,
    fields: &[FieldRef],
    filter: Option<(&str, &[Value])>,
    id_columns: &[String],
    name: &str,
) -> Result<Option<(Vec<RecordBatch>, Plan)>> {
    let narrow = |f: &FieldRef| f.data_type().is_primitive();
    let has = |c: &str| schema.column_with_name(c).is_some();
    if id_columns.is_empty()
        || !id_columns.iter().all(|c| has(c))
        || !has(UPDATED_AT)
        || fields.iter().all(narrow)
    {
        return Ok(None);
    }
    conn.execute_batch("BEGIN TRANSACTION")
        .map_err(|e| db_err(name, e))?;
    let result = in_transaction(conn, table, schema, fields, filter, id_columns, name);
    // a read-only transaction: its end changes nothing, and an error ending it only matters
    // when the scan itself succeeded
    let end = conn
        .execute_batch(if result.is_ok() { "COMMIT" } else { "ROLLBACK" })
        .map_err(|e| db_err(name, e));
    let parts = result?;
    end?;
    Ok(parts)
}

/// [`scan`] inside its transaction.
fn in_transaction(
    conn: &Connection,
    table: &str,
    schema: &Schema,
    fields: &[FieldRef],
    filter: Option<(&str, &[Value])>,
    id_columns: &[String],
    name: &str,
) -> Result<Option<(Vec<RecordBatch>, Plan)>> {
    let has_deleted = schema.column_with_name(DELETED_AT).is_some();
    let (where_sql, params): (String, Vec<Value>) = match filter {
        Some((f, p)) => (format!(" WHERE ({f})"), p.to_vec()),
        None => (String::new(), Vec::new()),
    };
    // one write stamp (a table written once) supersedes nothing: not worth a first pass
    let tombstones = if has_deleted {
        format!("count({})", sql::ident(DELETED_AT))
    } else {
        "0".to_string()
    };
    // one integer id column: its span, to tell whether the newest write covers every id
    let int_id = match id_columns {
        [one] => schema
            .field_with_name(one)
            .ok()
            .filter(|f| f.data_type().is_integer())
            .map(|_| sql::ident(one)),
        _ => None,
    };
    let id_span = match &int_id {
        Some(id) => format!("max({id})::HUGEINT - min({id})::HUGEINT + 1"),
        None => "NULL::HUGEINT".to_string(),
    };
    // plain columns, not `coalesce(deleted_at, updated_at)`: computing it for every row costs
    // as much as the scan. Stamps may differ when the update stamps do or a tombstone is stamped by its deletion.
    let updated = sql::ident(UPDATED_AT);
    let gate_started = std::time::Instant::now();
    let (rows, stamps_differ, tombstones, min_rowid, max_rowid, stamped, id_span) = conn
        .prepare(&format!(
            "SELECT count(*), coalesce(min({updated}) < max({updated}), false) OR {tombstones} > 0, \
             {tombstones}, coalesce(min(rowid), 0), coalesce(max(rowid), -1), count({updated}), \
             {id_span} FROM {}{where_sql}",
            sql::ident(table)
        ))
        .and_then(|mut stmt| {
            stmt.query_row(duckdb::params_from_iter(params.iter()), |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, Option<i128>>(6)?,
                ))
            })
        })
        .map_err(|e| db_err(name, e))?;
    tracing::debug!(
        table,
        rows,
        stamps_differ,
        gate_ms = gate_started.elapsed().as_millis() as u64,
        "the rows a read keeps the latest of"
    );
    if rows < MIN_ROWS || !stamps_differ {
        return Ok(None);
    }
    // the newest write's own stamps are checked as it is read, so they must be read, as
    // microsecond timestamps (what the store writes)
    let stamps_read = [UPDATED_AT, DELETED_AT].iter().all(|c| {
        schema.column_with_name(c).is_none()
            || fields.iter().any(|f| {
                f.name() == c
                    && matches!(f.data_type(), DataType::Timestamp(TimeUnit::Microsecond, _))
            })
    });
    // a table without tombstones is ordered by its update stamps alone
    let has_deleted = has_deleted && tombstones > 0;
    let stamp = if has_deleted {
        format!("coalesce({}, {updated})", sql::ident(DELETED_AT))
    } else {
        updated
    };
    if stamped == rows
        && stamps_read
        && let Some(span) = id_span
        && let Some(parts) = newest_write(
            conn,
            table,
            fields,
            (&where_sql, &params),
            (&stamp, &id_columns[0]),
            (rows, span, max_rowid),
            name,
        )?
    {
        return Ok(Some((parts, Plan::NewestWrite)));
    }
    // every row id between the first and the last matches: row k of the first pass (read in
    // row-id order) is row id `min_rowid + k`, and the row ids need not be read
    let dense = max_rowid
        .checked_sub(min_rowid)
        .and_then(|d| d.checked_add(1))
        == Some(rows);

    // pass 1: (row ids,) ids and stamps of every matching row
    let mut first: Vec<FieldRef> = Vec::new();
    if !dense {
        first.push(Arc::new(Field::new("rowid", DataType::Int64, false)));
    }
    for c in id_columns
        .iter()
        .map(String::as_str)
        .chain([UPDATED_AT])
        .chain(has_deleted.then_some(DELETED_AT))
    {
        let field = schema
            .field_with_name(c)
            .map_err(|e| Error::backend(name.to_string(), e))?;
        first.push(Arc::new(field.clone()));
    }
    let started = std::time::Instant::now();
    let Some(narrow) = collect::scan(conn, table, &first, filter, name)? else {
        return Ok(None);
    };
    let scanned = started.elapsed();
    let total: usize = narrow.iter().map(RecordBatch::num_rows).sum();
    let winners = metaxy_core::backend::latest_rows(&narrow, id_columns)?;
    tracing::debug!(
        table,
        rows = total,
        scan_ms = scanned.as_millis() as u64,
        latest_ms = (started.elapsed() - scanned).as_millis() as u64,
        "first pass of a two-pass scan"
    );
    let Some(winners) = winners else {
        return Ok(None);
    };
    if winners.len() * 100 > total * (100 - MIN_SKIPPED_PERCENT) {
        return Ok(None);
    }
    let listed: Vec<&[i64]> = if dense {
        Vec::new()
    } else {
        narrow
            .iter()
            .map(|p| p.column(0).as_primitive::<Int64Type>().values().as_ref())
            .collect()
    };
    let rowid = |row: u32| {
        if dense {
            Some(min_rowid + i64::from(row))
        } else {
            listed_rowid(&listed, row as usize)
        }
    };
    let Some(ranges) = ranges(&winners, rowid, MAX_RANGES) else {
        return Ok(None);
    };

    // pass 2: the requested columns of the winners' ranges
    let mut range_sql = Vec::with_capacity(ranges.len());
    let mut second_params = params;
    for (lo, hi) in &ranges {
        range_sql.push("rowid BETWEEN ? AND ?");
        second_params.push(Value::BigInt(*lo));
        second_params.push(Value::BigInt(*hi));
    }
    let second_filter = match filter {
        Some((f, _)) => format!("({f}) AND ({})", range_sql.join(" OR ")),
        None => range_sql.join(" OR "),
    };
    tracing::debug!(
        table,
        rows = total,
        kept = winners.len(),
        ranges = ranges.len(),
        "reading the latest rows of a rewritten table in two passes"
    );
    let Some(parts) = collect::scan(
        conn,
        table,
        fields,
        Some((&second_filter, &second_params)),
        name,
    )?
    else {
        return Ok(None);
    };
    let read: usize = parts.iter().map(RecordBatch::num_rows).sum();
    if read != winners.len() {
        tracing::warn!(
            table,
            expected = winners.len(),
            read,
            "the second pass of a two-pass DuckDB scan read other rows than the first found; \
             reading in one pass"
        );
        return Ok(None);
    }
    Ok(Some((parts, Plan::TwoPasses)))
}

/// The rows of the newest write of `table`, when they are the latest row of every sample:
/// the last `span` row ids (`span`: the ids' span over the `rows` rows matching the filter
/// `where_sql`; `last`: their greatest row id) all match the filter, every one is stamped
/// (`stamp`, in SQL) later than every matching row before them, and their ids come back
/// strictly increasing — so each id of the table is among them exactly once, newer than any
/// other row. `Ok(None)` when that does not hold or would not save a quarter of the rows.
fn newest_write(
    conn: &Connection,
    table: &str,
    fields: &[FieldRef],
    (where_sql, params): (&str, &[Value]),
    (stamp, id): (&str, &str),
    (rows, span, last): (i64, i128, i64),
    name: &str,
) -> Result<Option<Vec<RecordBatch>>> {
    let Some(id_at) = fields.iter().position(|f| f.name() == id) else {
        return Ok(None);
    };
    let pays = span * 100 <= i128::from(rows) * (100 - MIN_SKIPPED_PERCENT as i128);
    let Ok(newest) = i64::try_from(span) else {
        return Ok(None);
    };
    let Some(first) = last.checked_sub(newest - 1).filter(|_| pays && newest > 0) else {
        return Ok(None);
    };
    let filtered = |range: &str| match where_sql.strip_prefix(" WHERE ") {
        Some(f) => format!("{f} AND {range}"),
        None => range.to_string(),
    };
    // the newest stamp before the range (DuckDB skips the row groups of the range)
    let started = std::time::Instant::now();
    let mut before_params = params.to_vec();
    before_params.push(Value::BigInt(first));
    let before = conn
        .prepare(&format!(
            "SELECT epoch_us(max({stamp})) FROM {} WHERE {}",
            sql::ident(table),
            filtered("rowid < ?")
        ))
        .and_then(|mut stmt| {
            stmt.query_row(duckdb::params_from_iter(before_params), |r| {
                r.get::<_, Option<i64>>(0)
            })
        })
        .map_err(|e| db_err(name, e))?;
    tracing::debug!(
        table,
        ms = started.elapsed().as_millis() as u64,
        "the newest stamp before the last row-id range the ids span"
    );
    let filter = filtered("rowid BETWEEN ? AND ?");
    let mut range_params = params.to_vec();
    range_params.extend([Value::BigInt(first), Value::BigInt(last)]);
    let Some(parts) = collect::scan(conn, table, fields, Some((&filter, &range_params)), name)?
    else {
        return Ok(None);
    };
    let read: usize = parts.iter().map(RecordBatch::num_rows).sum();
    let newer = match (least_stamp(&parts), before) {
        (Some(least), Some(before)) => least > before,
        _ => false,
    };
    if i64::try_from(read).ok() != Some(newest) || !newer || !strictly_increasing(&parts, id_at) {
        tracing::debug!(
            table,
            newest,
            read,
            newer,
            "the last row-id range the ids span is not each sample once, in order and newer \
             than the rows before it; reading in two passes"
        );
        return Ok(None);
    }
    tracing::debug!(
        table,
        rows,
        kept = newest,
        "the newest write rewrote every sample: read its rows alone"
    );
    Ok(Some(parts))
}

/// The least `coalesce(deleted_at, updated_at)` of `parts` in microseconds, `None` when a row
/// has neither or the columns are not microsecond timestamps (the stamps keep-latest orders
/// by, read by every hinted scan).
fn least_stamp(parts: &[RecordBatch]) -> Option<i64> {
    let mut least: Option<i64> = None;
    for part in parts {
        let micros = |c: &str| {
            part.column_by_name(c)
                .map(|a| a.as_primitive_opt::<TimestampMicrosecondType>())
        };
        let updated = micros(UPDATED_AT)??;
        let deleted = match micros(DELETED_AT) {
            None => None,
            Some(Some(d)) if d.null_count() < d.len() => Some(d),
            Some(Some(_)) => None,
            Some(None) => return None,
        };
        let part_least = match deleted {
            None if updated.null_count() == 0 => updated.values().iter().min().copied(),
            _ => {
                let mut m: Option<i64> = None;
                for r in 0..part.num_rows() {
                    let stamp = deleted
                        .filter(|d| d.is_valid(r))
                        .or(Some(updated).filter(|u| u.is_valid(r)))?
                        .value(r);
                    m = Some(m.map_or(stamp, |m| m.min(stamp)));
                }
                m
            }
        };
        least = match (least, part_least) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    least
}

/// Whether integer column `column` of `parts`, read in order, has no NULL and strictly
/// increases.
fn strictly_increasing(parts: &[RecordBatch], column: usize) -> bool {
    macro_rules! increasing_of {
        ($t:ty, $array:expr, $previous:expr) => {
            increasing($array.as_primitive::<$t>().values(), $previous)
        };
    }
    let mut previous: Option<i128> = None;
    parts.iter().all(|part| {
        let array = part.column(column);
        let last = &mut previous;
        array.null_count() == 0
            && downcast_integer! {
                array.data_type() => (increasing_of, array, last),
                _ => false,
            }
    })
}

/// Whether `values` strictly increase, each after `previous` (updated to the last).
fn increasing<T: Copy + Into<i128>>(values: &[T], previous: &mut Option<i128>) -> bool {
    for v in values {
        let v: i128 = (*v).into();
        if previous.is_some_and(|p| p >= v) {
            return false;
        }
        *previous = Some(v);
    }
    true
}

/// The row id of row `row` of parts whose row ids are `parts`.
fn listed_rowid(parts: &[&[i64]], row: usize) -> Option<i64> {
    let mut at = 0usize;
    for part in parts {
        if row < at + part.len() {
            return part.get(row - at).copied();
        }
        at += part.len();
    }
    None
}

/// The row-id ranges `(first, last)` of `winners` (row numbers of the first pass, ascending;
/// `rowid` maps one to its row id): rows consecutive in the first pass share a range, and rows
/// between them in row-id order did not match its filter. `None` when more than `max` ranges
/// would be needed or a row id is unknown.
fn ranges(
    winners: &[u32],
    rowid: impl Fn(u32) -> Option<i64>,
    max: usize,
) -> Option<Vec<(i64, i64)>> {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &w in winners {
        match runs.last_mut() {
            Some(last) if last.1.checked_add(1) == Some(w) => last.1 = w,
            _ => {
                if runs.len() == max {
                    return None;
                }
                runs.push((w, w));
            }
        }
    }
    runs.into_iter()
        .map(|(a, b)| Some((rowid(a)?, rowid(b)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use arrow_array::types::UInt64Type;
    use metaxy_core::backend::ScanRequest;
    use metaxy_core::columns::PROVENANCE;

    use super::*;

    const N: u64 = 300_000;

    /// [`table_of`] with `N` samples.
    fn table(conn: &Connection, name: &str, rewrite: &str) {
        table_of(conn, name, N, rewrite);
    }

    /// A table of `n` samples written at day 1 (provenance `old<i>`), then the samples
    /// `rewrite` re-written at day 2 (provenance `new<i>`).
    fn table_of(conn: &Connection, name: &str, n: u64, rewrite: &str) {
        conn.execute_batch(&format!(
            "CREATE TABLE {name} (sample_uid UBIGINT, metaxy_updated_at TIMESTAMPTZ,
                 metaxy_deleted_at TIMESTAMPTZ, metaxy_provenance VARCHAR);
             INSERT INTO {name} SELECT i, TIMESTAMPTZ '2026-01-01 00:00:00+00', NULL, 'old' || i
                 FROM range({n}) r(i);
             INSERT INTO {name} SELECT i, TIMESTAMPTZ '2026-01-02 00:00:00+00', NULL, 'new' || i
                 FROM range({n}) r(i) WHERE {rewrite};"
        ))
        .unwrap();
    }

    /// `(sample_uid, provenance)` of every row a hinted scan returns.
    fn hinted(conn: &Connection, table: &str, filter: Option<&str>) -> Vec<(u64, String)> {
        let request = ScanRequest {
            columns: Some(vec!["sample_uid".into(), PROVENANCE.into()]),
            filter: filter.map(|f| metaxy_core::Expr::parse(f).unwrap()),
            latest_of: Some(vec!["sample_uid".into()]),
        };
        let parts = crate::backend::scan_parts(conn, table, &request, "test")
            .unwrap()
            .unwrap();
        id_provenance(&parts)
    }

    /// `(sample_uid, provenance)` of every row of `parts` (the first two columns).
    fn id_provenance(parts: &[RecordBatch]) -> Vec<(u64, String)> {
        parts
            .iter()
            .flat_map(|p| {
                let ids = p.column(0).as_primitive::<UInt64Type>().clone();
                let prov = p.column(1).as_string::<i32>().clone();
                (0..p.num_rows())
                    .map(move |i| (ids.value(i), prov.value(i).to_string()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The latest provenance of sample `i` when the samples matching `rewritten` were
    /// re-written.
    fn latest(i: u64, rewritten: impl Fn(u64) -> bool) -> String {
        if rewritten(i) {
            format!("new{i}")
        } else {
            format!("old{i}")
        }
    }

    #[test]
    fn a_rewritten_table_yields_only_its_latest_rows() {
        let conn = Connection::open_in_memory().unwrap();
        collect::register(&conn, "test").unwrap();
        // the first half re-written: two passes, exactly one row per sample
        table(&conn, "half", &format!("i < {}", N / 2));
        let rows = hinted(&conn, "half", None);
        // without the hint every version is read
        let every = crate::backend::scan_parts(&conn, "half", &ScanRequest::all(), "test")
            .unwrap()
            .unwrap();
        assert_eq!(
            every.iter().map(RecordBatch::num_rows).sum::<usize>(),
            (N + N / 2) as usize
        );
        let mut want: Vec<(u64, String)> = (0..N).map(|i| (i, latest(i, |i| i < N / 2))).collect();
        let mut got = rows.clone();
        got.sort();
        want.sort();
        assert_eq!(got, want);
        // with a filter on the ids (and one on other columns) pushed into both passes
        let rows = hinted(
            &conn,
            "half",
            Some("sample_uid >= 1000 AND metaxy_provenance != 'old200000'"),
        );
        assert_eq!(rows.len(), N as usize - 1000 - 1);
        assert!(
            rows.iter()
                .all(|(i, p)| *i >= 1000 && *p == latest(*i, |i| i < N / 2))
        );
    }

    /// The plan a hinted scan of `(sample_uid, provenance)` and the stamps takes, and the
    /// `(sample_uid, provenance)` of the rows it returns.
    fn planned(
        conn: &Connection,
        table: &str,
        filter: Option<&str>,
    ) -> Option<(Plan, Vec<(u64, String)>)> {
        let schema = crate::backend::table_schema(conn, table, "test")
            .unwrap()
            .unwrap();
        // the columns a store's read asks for besides the requested ones: the stamps
        let fields: Vec<FieldRef> = ["sample_uid", PROVENANCE, UPDATED_AT, DELETED_AT]
            .iter()
            .map(|c| Arc::new(schema.field_with_name(c).unwrap().clone()))
            .collect();
        let filter = filter.map(|f| sql::filter_sql(&metaxy_core::Expr::parse(f).unwrap()));
        let filter = filter.as_ref().map(|(s, p)| (s.as_str(), p.as_slice()));
        let ids = ["sample_uid".to_string()];
        let (parts, plan) = scan(conn, table, &schema, &fields, filter, &ids, "test").unwrap()?;
        Some((plan, id_provenance(&parts)))
    }

    #[test]
    fn a_full_rewrite_is_read_from_its_newest_write_alone() {
        let conn = Connection::open_in_memory().unwrap();
        collect::register(&conn, "test").unwrap();
        table(&conn, "rewritten", "true");
        let want: Vec<(u64, String)> = (0..N).map(|i| (i, format!("new{i}"))).collect();
        assert_eq!(
            planned(&conn, "rewritten", None),
            Some((Plan::NewestWrite, want))
        );
        // a filter on the ids narrows the span and the newest write alike
        let (plan, rows) = planned(&conn, "rewritten", Some("sample_uid >= 1000")).unwrap();
        assert_eq!(plan, Plan::NewestWrite);
        assert_eq!(rows.len(), N as usize - 1000);
        assert!(
            rows.iter()
                .all(|(i, p)| *i >= 1000 && *p == format!("new{i}"))
        );
        // a filter leaving out a row of the newest write: its sample's latest matching row
        // is an older one, so the newest write alone would be wrong
        let (plan, rows) =
            planned(&conn, "rewritten", Some("metaxy_provenance != 'new5'")).unwrap();
        assert_eq!(plan, Plan::TwoPasses);
        assert_eq!(rows.len(), N as usize);
        assert!(rows.contains(&(5, "old5".to_string())));
        // half re-written: the newest write does not cover the ids, two passes
        table(&conn, "half", &format!("i < {}", N / 2));
        let (plan, rows) = planned(&conn, "half", None).unwrap();
        assert_eq!(plan, Plan::TwoPasses);
        assert_eq!(rows.len(), N as usize);
    }

    #[test]
    fn a_newest_write_out_of_order_or_with_a_repeated_id_is_not_trusted() {
        let conn = Connection::open_in_memory().unwrap();
        collect::register(&conn, "test").unwrap();
        // every sample re-written, in descending id order: as many rows as ids, one range,
        // but not increasing — the two passes find the same rows
        table_of(&conn, "reversed", N, "false");
        conn.execute_batch(&format!(
            "INSERT INTO reversed SELECT i, TIMESTAMPTZ '2026-01-02 00:00:00+00', NULL, 'new' || i
                 FROM range({N}) r(i) ORDER BY i DESC"
        ))
        .unwrap();
        let (plan, mut rows) = planned(&conn, "reversed", None).unwrap();
        assert_eq!(plan, Plan::TwoPasses);
        rows.sort();
        let want: Vec<(u64, String)> = (0..N).map(|i| (i, format!("new{i}"))).collect();
        assert_eq!(rows, want);
        // one id twice in the newest write and another missing: the count still matches the
        // span, but the repeated id ties on its stamp — the caller decides on every row
        table_of(&conn, "repeated", N, "false");
        conn.execute_batch(&format!(
            "INSERT INTO repeated SELECT CASE WHEN i = 6 THEN 5 ELSE i END,
                 TIMESTAMPTZ '2026-01-02 00:00:00+00', NULL, 'new' || i FROM range({N}) r(i)"
        ))
        .unwrap();
        assert_eq!(planned(&conn, "repeated", None), None);
        // every sample written again, but stamped earlier (a backfill): the older write wins
        table_of(&conn, "backfilled", N, "false");
        conn.execute_batch(&format!(
            "INSERT INTO backfilled SELECT i, TIMESTAMPTZ '2025-12-31 00:00:00+00', NULL,
                 'backfill' || i FROM range({N}) r(i)"
        ))
        .unwrap();
        let (plan, rows) = planned(&conn, "backfilled", None).unwrap();
        assert_eq!(plan, Plan::TwoPasses);
        assert_eq!(
            rows,
            (0..N).map(|i| (i, format!("old{i}"))).collect::<Vec<_>>()
        );
        // a tombstone before the rewrite, deleting later than the rewrite was stamped: it
        // wins for its sample, so the rewrite alone would be wrong
        conn.execute_batch(&format!(
            "CREATE TABLE tombstoned (sample_uid UBIGINT, metaxy_updated_at TIMESTAMPTZ,
                 metaxy_deleted_at TIMESTAMPTZ, metaxy_provenance VARCHAR);
             INSERT INTO tombstoned SELECT i, TIMESTAMPTZ '2026-01-01 00:00:00+00', NULL,
                 'old' || i FROM range({N}) r(i);
             INSERT INTO tombstoned VALUES (7, TIMESTAMPTZ '2026-01-01 00:00:00+00',
                 TIMESTAMPTZ '2026-01-03 00:00:00+00', 'gone7');
             INSERT INTO tombstoned SELECT i, TIMESTAMPTZ '2026-01-02 00:00:00+00', NULL,
                 'new' || i FROM range({N}) r(i);"
        ))
        .unwrap();
        let (plan, mut rows) = planned(&conn, "tombstoned", None).unwrap();
        assert_eq!(plan, Plan::TwoPasses);
        rows.sort();
        let want: Vec<(u64, String)> = (0..N)
            .map(|i| {
                (
                    i,
                    if i == 7 {
                        "gone7".into()
                    } else {
                        format!("new{i}")
                    },
                )
            })
            .collect();
        assert_eq!(rows, want);
    }

    #[test]
    fn tombstones_win_over_the_rows_they_delete() {
        let conn = Connection::open_in_memory().unwrap();
        collect::register(&conn, "test").unwrap();
        table(&conn, "deleted", &format!("i < {}", N / 2));
        // soft-deleted later (stamped by deleted_at) and a tombstone written with an older
        // updated_at than the rewrite: the deletion stamp is what orders it
        conn.execute_batch(
            "INSERT INTO deleted SELECT i, TIMESTAMPTZ '2026-01-01 00:00:00+00',
                 TIMESTAMPTZ '2026-01-03 00:00:00+00', 'gone' || i FROM range(10) r(i);",
        )
        .unwrap();
        let rows = hinted(&conn, "deleted", None);
        assert_eq!(rows.len(), N as usize);
        for (i, p) in rows {
            let want = if i < 10 {
                format!("gone{i}")
            } else {
                latest(i, |i| i < N / 2)
            };
            assert_eq!(p, want);
        }
    }

    #[test]
    fn one_pass_reads_every_row_when_two_would_not_pay_or_could_be_wrong() {
        let conn = Connection::open_in_memory().unwrap();
        collect::register(&conn, "test").unwrap();
        // every other sample re-written: the winners are too scattered for row-id ranges
        table(&conn, "scattered", "i % 2 = 0");
        assert_eq!(hinted(&conn, "scattered", None).len(), (N + N / 2) as usize);
        // a tenth re-written: most rows win, the first pass would not pay
        table(&conn, "tenth", &format!("i < {}", N / 10));
        assert_eq!(hinted(&conn, "tenth", None).len(), (N + N / 10) as usize);
        // a tie of stamps between two rows of a sample: decided by the caller on all rows
        table(&conn, "tied", &format!("i < {}", N / 2));
        conn.execute_batch(
            "INSERT INTO tied VALUES (7, TIMESTAMPTZ '2026-01-02 00:00:00+00', NULL, 'other')",
        )
        .unwrap();
        assert_eq!(hinted(&conn, "tied", None).len(), (N + N / 2 + 1) as usize);
        // a small table: one pass
        table_of(&conn, "small", 1000, "true");
        assert_eq!(hinted(&conn, "small", None).len(), 2000);
    }

    #[test]
    fn ids_strictly_increase_across_parts_of_any_integer_type() {
        use arrow_array::{ArrayRef, Float64Array, Int8Array, Int32Array};
        let parts = |arrays: Vec<ArrayRef>| -> Vec<RecordBatch> {
            arrays
                .into_iter()
                .map(|a| RecordBatch::try_from_iter(vec![("id", a)]).unwrap())
                .collect()
        };
        let i32s = |v: Vec<Option<i32>>| Arc::new(Int32Array::from(v)) as ArrayRef;
        assert!(strictly_increasing(
            &parts(vec![i32s(vec![Some(-5), Some(2)]), i32s(vec![Some(3)])]),
            0
        ));
        // equal across the boundary of two parts, a NULL, a decrease
        assert!(!strictly_increasing(
            &parts(vec![i32s(vec![Some(1), Some(2)]), i32s(vec![Some(2)])]),
            0
        ));
        assert!(!strictly_increasing(
            &parts(vec![i32s(vec![Some(1), None])]),
            0
        ));
        let i8s = Arc::new(Int8Array::from(vec![3, 1])) as ArrayRef;
        assert!(!strictly_increasing(&parts(vec![i8s]), 0));
        // not an integer column
        let floats = Arc::new(Float64Array::from(vec![1.0, 2.0])) as ArrayRef;
        assert!(!strictly_increasing(&parts(vec![floats]), 0));
    }

    #[test]
    fn consecutive_winners_share_a_range_across_parts() {
        let a: &[i64] = &[10, 11, 12, 20];
        let b: &[i64] = &[21, 22, 40];
        let listed = |row: u32| listed_rowid(&[a, b], row as usize);
        // rows 1, 2 | 3, 4 (across the parts: one run) | 6
        assert_eq!(
            ranges(&[1, 2, 3, 4, 6], listed, 8),
            Some(vec![(11, 21), (40, 40)])
        );
        assert_eq!(ranges(&[0, 2, 4, 6], listed, 3), None);
        assert_eq!(ranges(&[], listed, 3), Some(vec![]));
        // a row past the parts has no row id
        assert_eq!(ranges(&[6, 7], listed, 3), None);
        // dense row ids: an offset
        assert_eq!(
            ranges(&[0, 1, 5], |r| Some(100 + i64::from(r)), 3),
            Some(vec![(100, 101), (105, 105)])
        );
    }
}

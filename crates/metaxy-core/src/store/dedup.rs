//! Keep-latest-by-group (reference 4.5): per sample, the row with the greatest
//! `coalesce(metaxy_deleted_at, metaxy_updated_at)` wins.
//!
//! Ties (possible only between processes writing the same sample in the same microsecond)
//! resolve deterministically to one whole row: a tombstone beats a live row, then the greater
//! `metaxy_provenance`, then the row read last.

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray, UInt32Array};
use arrow_schema::{DataType, TimeUnit};

use crate::columns::{DELETED_AT, PROVENANCE, UPDATED_AT};
use crate::error::Result;
use crate::keys::{self, Grouping};

fn micros(batch: &RecordBatch, name: &str) -> Result<Option<ArrayRef>> {
    match batch.column_by_name(name) {
        None => Ok(None),
        Some(c) => Ok(Some(arrow_cast::cast(
            c,
            &DataType::Timestamp(TimeUnit::Microsecond, None),
        )?)),
    }
}

/// The latest row of every group of `id_columns`.
pub(crate) fn keep_latest(
    batch: &RecordBatch,
    id_columns: &[String],
    what: &str,
) -> Result<RecordBatch> {
    if batch.num_rows() <= 1 {
        return Ok(batch.clone());
    }
    let arrays = keys::key_arrays(batch, id_columns, what)?;
    let enc = keys::encode(&arrays)?;
    let grouping = Grouping::new(&enc);
    if grouping.num_groups() == batch.num_rows() {
        return Ok(batch.clone());
    }
    let updated = micros(batch, UPDATED_AT)?;
    let deleted = micros(batch, DELETED_AT)?;
    let updated = updated
        .as_ref()
        .map(|a| a.as_primitive::<TimestampMicrosecondType>());
    let deleted = deleted
        .as_ref()
        .map(|a| a.as_primitive::<TimestampMicrosecondType>());
    let prov = batch
        .column_by_name(PROVENANCE)
        .and_then(|c| arrow_cast::cast(c, &DataType::Utf8).ok());
    let prov: Option<&StringArray> = prov.as_ref().and_then(|c| c.as_any().downcast_ref());

    let key = |row: usize| {
        let del = deleted.filter(|d| d.is_valid(row)).map(|d| d.value(row));
        let upd = updated.filter(|u| u.is_valid(row)).map(|u| u.value(row));
        let t = del.or(upd).unwrap_or(i64::MIN);
        let p = prov.filter(|p| p.is_valid(row)).map(|p| p.value(row));
        (t, del.is_some(), p)
    };
    let mut best: Vec<u32> = grouping.first_row.clone();
    for (row, &g) in grouping.group_of_row.iter().enumerate() {
        let current = best[g as usize] as usize;
        if row != current && key(row) >= key(current) {
            best[g as usize] = row as u32;
        }
    }
    best.sort_unstable();
    if let (Some(&first), Some(&last)) = (best.first(), best.last())
        && (last - first) as usize + 1 == best.len()
    {
        // The winners are one run of rows (a feature rewritten in full, the latest write
        // winning everywhere): a zero-copy slice instead of gathering every column.
        return Ok(batch.slice(first as usize, best.len()));
    }
    Ok(arrow_select::take::take_record_batch(
        batch,
        &UInt32Array::from(best),
    )?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use arrow_array::{Int64Array, TimestampMicrosecondArray};

    use super::*;

    fn latest(ids: &[i64], updated: &[i64]) -> Vec<(i64, i64)> {
        let batch = RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef),
            (
                UPDATED_AT,
                Arc::new(TimestampMicrosecondArray::from(updated.to_vec())) as ArrayRef,
            ),
        ])
        .unwrap();
        let out = keep_latest(&batch, &["id".to_string()], "test").unwrap();
        let ids = out
            .column(0)
            .as_primitive::<arrow_array::types::Int64Type>();
        let ts = out.column(1).as_primitive::<TimestampMicrosecondType>();
        (0..out.num_rows())
            .map(|i| (ids.value(i), ts.value(i)))
            .collect()
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
    }
}

//! Sample keys: encoding id columns so rows can be grouped, deduplicated and joined.
//!
//! A single non-null integer id column (the common case: `sample_uid`) is kept as `u64`
//! values; anything else (composite keys, strings, nulls) goes through Arrow's row format,
//! whose byte strings compare equal exactly when the key values are equal.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_buffer::ScalarBuffer;
use arrow_row::{RowConverter, Rows, SortField};
use arrow_schema::DataType;
use hashbrown::HashMap;

use crate::error::{Error, Result};

/// Row keys of a frame, ready for hashing.
pub(crate) enum EncodedKeys {
    /// One integer column without nulls, as its bit pattern (zero-copy for 64-bit columns).
    Int(ScalarBuffer<u64>),
    /// Anything else, in Arrow's row format.
    Rows(Rows),
}

impl EncodedKeys {
    pub(crate) fn len(&self) -> usize {
        match self {
            EncodedKeys::Int(v) => v.len(),
            EncodedKeys::Rows(r) => r.num_rows(),
        }
    }

    /// Whether the keys are integers in strictly increasing order (so every key is distinct
    /// and two such sides can be merged instead of hashed). Frames written in id order — the
    /// common case — stay in that order through keep-latest, joins and the comparison.
    pub(crate) fn strictly_increasing_ints(&self) -> Option<&[u64]> {
        match self {
            EncodedKeys::Int(v) if v.windows(2).all(|w| w[0] < w[1]) => Some(v),
            _ => None,
        }
    }
}

/// The values of a single non-null integer key column as `u64` bit patterns (signed values
/// reinterpreted: equality is all the keys need), without copying 64-bit columns.
pub(crate) fn int_values(a: &ArrayRef) -> Option<ScalarBuffer<u64>> {
    if a.null_count() > 0 {
        return None;
    }
    let widen = |v: Vec<u64>| Some(ScalarBuffer::from(v));
    match a.data_type() {
        DataType::Int64 => {
            let values = a.as_primitive::<Int64Type>().values();
            Some(ScalarBuffer::new(values.inner().clone(), 0, values.len()))
        }
        DataType::UInt64 => Some(a.as_primitive::<UInt64Type>().values().clone()),
        DataType::Int32 => widen(
            a.as_primitive::<Int32Type>()
                .values()
                .iter()
                .map(|v| *v as i64 as u64)
                .collect(),
        ),
        DataType::UInt32 => widen(
            a.as_primitive::<UInt32Type>()
                .values()
                .iter()
                .map(|v| u64::from(*v))
                .collect(),
        ),
        DataType::Int16 => widen(
            a.as_primitive::<Int16Type>()
                .values()
                .iter()
                .map(|v| *v as i64 as u64)
                .collect(),
        ),
        DataType::UInt16 => widen(
            a.as_primitive::<UInt16Type>()
                .values()
                .iter()
                .map(|v| u64::from(*v))
                .collect(),
        ),
        DataType::Int8 => widen(
            a.as_primitive::<Int8Type>()
                .values()
                .iter()
                .map(|v| *v as i64 as u64)
                .collect(),
        ),
        DataType::UInt8 => widen(
            a.as_primitive::<UInt8Type>()
                .values()
                .iter()
                .map(|v| u64::from(*v))
                .collect(),
        ),
        _ => None,
    }
}

/// Matches two strictly increasing id sequences in one pass (see
/// [`EncodedKeys::strictly_increasing_ints`]): `left_row(i, Some(j))` for each left row whose
/// id is right row `j`'s, `left_row(i, None)` for the others, in left order. Returns the right
/// rows no left row matched, in right order.
pub(crate) fn merge_ids(
    left: &[u64],
    right: &[u64],
    mut left_row: impl FnMut(usize, Option<usize>),
) -> Vec<u32> {
    let mut unmatched = Vec::new();
    let mut j = 0;
    for (i, id) in left.iter().enumerate() {
        while j < right.len() && right[j] < *id {
            unmatched.push(j as u32);
            j += 1;
        }
        if j < right.len() && right[j] == *id {
            left_row(i, Some(j));
            j += 1;
        } else {
            left_row(i, None);
        }
    }
    unmatched.extend(j as u32..right.len() as u32);
    unmatched
}

/// The named columns of `batch`, failing with a message that names the missing one.
pub(crate) fn key_arrays(
    batch: &RecordBatch,
    columns: &[String],
    what: &str,
) -> Result<Vec<ArrayRef>> {
    columns
        .iter()
        .map(|c| {
            batch.column_by_name(c).cloned().ok_or_else(|| {
                let available: Vec<&str> = batch
                    .schema_ref()
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect();
                Error::InvalidArgument(format!(
                    "{what} has no id column `{c}` (available: {})",
                    available.join(", ")
                ))
            })
        })
        .collect()
}

/// Encodes one set of key columns on its own (for grouping within one frame).
pub(crate) fn encode(arrays: &[ArrayRef]) -> Result<EncodedKeys> {
    if let [single] = arrays
        && let Some(values) = int_values(single)
    {
        return Ok(EncodedKeys::Int(values));
    }
    let fields = arrays
        .iter()
        .map(|a| SortField::new(a.data_type().clone()))
        .collect();
    let converter = RowConverter::new(fields)?;
    Ok(EncodedKeys::Rows(converter.convert_columns(arrays)?))
}

/// Encodes the key columns of several parts of one frame (the appends or chunks a backend
/// returned, all of one schema) as if they were one frame: row `i` of part `p` is row
/// `offset(p) + i`.
pub(crate) fn encode_parts(parts: &[Vec<ArrayRef>]) -> Result<EncodedKeys> {
    if let [one] = parts {
        return encode(one);
    }
    let singles: Option<Vec<ScalarBuffer<u64>>> = parts
        .iter()
        .map(|p| match p.as_slice() {
            [single] => int_values(single),
            _ => None,
        })
        .collect();
    if let Some(values) = singles {
        let mut all = Vec::with_capacity(values.iter().map(|v| v.len()).sum());
        for v in &values {
            all.extend_from_slice(v);
        }
        return Ok(EncodedKeys::Int(ScalarBuffer::from(all)));
    }
    let Some(first) = parts.first() else {
        return Ok(EncodedKeys::Int(ScalarBuffer::from(Vec::new())));
    };
    let converter = RowConverter::new(
        first
            .iter()
            .map(|a| SortField::new(a.data_type().clone()))
            .collect(),
    )?;
    let rows: usize = parts.iter().map(|p| p.first().map_or(0, |a| a.len())).sum();
    let mut encoded = converter.empty_rows(rows, rows * 16);
    for p in parts {
        converter.append(&mut encoded, p)?;
    }
    Ok(EncodedKeys::Rows(encoded))
}

/// Encodes two sides' key columns identically so they can be joined. The right side is cast
/// to the left side's types where they differ.
pub(crate) fn encode_pair(
    left: &[ArrayRef],
    right: &[ArrayRef],
) -> Result<(EncodedKeys, EncodedKeys)> {
    let mut right_cast = Vec::with_capacity(right.len());
    let mut left_cast = Vec::with_capacity(left.len());
    for (l, r) in left.iter().zip(right) {
        let (l2, r2) = unify_key_types(l, r)?;
        left_cast.push(l2);
        right_cast.push(r2);
    }
    if let ([l], [r]) = (left_cast.as_slice(), right_cast.as_slice())
        && let (Some(lv), Some(rv)) = (int_values(l), int_values(r))
    {
        return Ok((EncodedKeys::Int(lv), EncodedKeys::Int(rv)));
    }
    let fields = left_cast
        .iter()
        .map(|a| SortField::new(a.data_type().clone()))
        .collect();
    let converter = RowConverter::new(fields)?;
    let lr = converter.convert_columns(&left_cast)?;
    let rr = converter.convert_columns(&right_cast)?;
    Ok((EncodedKeys::Rows(lr), EncodedKeys::Rows(rr)))
}

fn unify_key_types(l: &ArrayRef, r: &ArrayRef) -> Result<(ArrayRef, ArrayRef)> {
    let (lt, rt) = (l.data_type(), r.data_type());
    if lt == rt {
        return Ok((l.clone(), r.clone()));
    }
    if lt == &DataType::Null {
        return Ok((arrow_cast::cast(l, rt)?, r.clone()));
    }
    if rt == &DataType::Null {
        return Ok((l.clone(), arrow_cast::cast(r, lt)?));
    }
    if lt.is_integer() && rt.is_integer() {
        // Compare signed/unsigned ids by value: both as Int64 (ids beyond i64 are rejected).
        let target = DataType::Int64;
        return Ok((arrow_cast::cast(l, &target)?, arrow_cast::cast(r, &target)?));
    }
    if matches!(
        lt,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) && matches!(
        rt,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) {
        let target = DataType::Utf8;
        return Ok((arrow_cast::cast(l, &target)?, arrow_cast::cast(r, &target)?));
    }
    match arrow_cast::cast(r, lt) {
        Ok(rc) => Ok((l.clone(), rc)),
        Err(_) => Err(Error::InvalidArgument(format!(
            "cannot join id columns of types {lt} and {rt}; give the id column one type in every feature"
        ))),
    }
}

/// An empty slot of a dense key map.
const EMPTY: u32 = u32::MAX;

/// `(min, max - min + 1)` of integer keys (given in pieces) when a direct-address table over
/// that range costs at most a few bytes per row (ids numbered densely from some offset).
pub(crate) fn dense_range<V: AsRef<[u64]>>(pieces: &[V]) -> Option<(u64, usize)> {
    // per piece over a slice (vectorised), then across the pieces
    let (min, max) = pieces
        .iter()
        .filter_map(|p| {
            let (&first, rest) = p.as_ref().split_first()?;
            Some(
                rest.iter()
                    .fold((first, first), |(lo, hi), &v| (lo.min(v), hi.max(v))),
            )
        })
        .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))?;
    let len: usize = pieces.iter().map(|p| p.as_ref().len()).sum();
    let span = usize::try_from(max - min).ok()?.checked_add(1)?;
    // Group numbers are u32 with EMPTY reserved, so the row count must stay below it.
    (span <= len.saturating_mul(2).max(1024) && len < EMPTY as usize).then_some((min, span))
}

/// A dense numbering of the distinct keys of a frame, with a lookup for probing.
pub(crate) struct Grouping<'a> {
    /// The group of each row.
    pub group_of_row: Vec<u32>,
    /// The first row of each group.
    pub first_row: Vec<u32>,
    map: KeyMap<'a>,
}

enum KeyMap<'a> {
    /// Integer keys in a narrow range (ids numbered from some offset, the common case): the
    /// group of key `v` at `slots[v - min]`, no hashing and no pointer chasing.
    Dense {
        min: u64,
        slots: Vec<u32>,
    },
    Int(HashMap<u64, u32>),
    Rows(HashMap<&'a [u8], u32>),
}

impl<'a> Grouping<'a> {
    /// Numbers the distinct keys of `keys` in order of first appearance.
    pub(crate) fn new(keys: &'a EncodedKeys) -> Self {
        let n = keys.len();
        let mut group_of_row = Vec::with_capacity(n);
        let mut first_row = Vec::new();
        let map = match keys {
            EncodedKeys::Int(values) if let Some((min, span)) = dense_range(&[values]) => {
                let mut slots = vec![EMPTY; span];
                for (i, v) in values.iter().enumerate() {
                    let slot = &mut slots[(v - min) as usize];
                    if *slot == EMPTY {
                        *slot = first_row.len() as u32;
                        first_row.push(i as u32);
                    }
                    group_of_row.push(*slot);
                }
                KeyMap::Dense { min, slots }
            }
            EncodedKeys::Int(values) => {
                let mut map: HashMap<u64, u32> = HashMap::with_capacity(n);
                for (i, v) in values.iter().enumerate() {
                    let next = first_row.len() as u32;
                    let g = *map.entry(*v).or_insert_with(|| {
                        first_row.push(i as u32);
                        next
                    });
                    group_of_row.push(g);
                }
                KeyMap::Int(map)
            }
            EncodedKeys::Rows(rows) => {
                let mut map: HashMap<&'a [u8], u32> = HashMap::with_capacity(n);
                for i in 0..n {
                    let next = first_row.len() as u32;
                    let g = *map.entry(rows.row(i).data()).or_insert_with(|| {
                        first_row.push(i as u32);
                        next
                    });
                    group_of_row.push(g);
                }
                KeyMap::Rows(map)
            }
        };
        Grouping {
            group_of_row,
            first_row,
            map,
        }
    }

    /// Number of distinct keys.
    pub(crate) fn num_groups(&self) -> usize {
        self.first_row.len()
    }

    /// The group of row `row` of `other` (encoded together with this grouping's keys), if any.
    #[inline]
    pub(crate) fn probe(&self, other: &EncodedKeys, row: usize) -> Option<u32> {
        match (&self.map, other) {
            (KeyMap::Dense { min, slots }, EncodedKeys::Int(v)) => {
                let slot = *slots.get(usize::try_from(v[row].checked_sub(*min)?).ok()?)?;
                (slot != EMPTY).then_some(slot)
            }
            (KeyMap::Int(m), EncodedKeys::Int(v)) => m.get(&v[row]).copied(),
            (KeyMap::Rows(m), EncodedKeys::Rows(r)) => m.get(r.row(row).data()).copied(),
            _ => None,
        }
    }

    /// Rows of each group, as (start offsets, row indices) — a CSR layout.
    pub(crate) fn members(&self) -> (Vec<u32>, Vec<u32>) {
        let g = self.num_groups();
        let mut counts = vec![0u32; g + 1];
        for &gr in &self.group_of_row {
            counts[gr as usize + 1] += 1;
        }
        for i in 1..=g {
            counts[i] += counts[i - 1];
        }
        let mut fill = counts.clone();
        let mut rows = vec![0u32; self.group_of_row.len()];
        for (i, &gr) in self.group_of_row.iter().enumerate() {
            let slot = &mut fill[gr as usize];
            rows[*slot as usize] = i as u32;
            *slot += 1;
        }
        (counts, rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray, UInt64Array};
    use std::sync::Arc;

    #[test]
    fn groups_and_probes_int_and_composite_keys() {
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![5, 3, 5, 7]));
        let keys = encode(std::slice::from_ref(&ids)).unwrap();
        let g = Grouping::new(&keys);
        assert_eq!(g.group_of_row, vec![0, 1, 0, 2]);
        assert_eq!(g.first_row, vec![0, 1, 3]);
        let (offsets, rows) = g.members();
        assert_eq!(offsets, vec![0, 2, 3, 4]);
        assert_eq!(rows, vec![0, 2, 1, 3]);

        // a UInt64 side joins an Int64 side by value
        let other: ArrayRef = Arc::new(UInt64Array::from(vec![7, 8]));
        let (l, r) = encode_pair(&[ids], &[other]).unwrap();
        let g = Grouping::new(&l);
        assert_eq!(g.probe(&r, 0), Some(2));
        assert_eq!(g.probe(&r, 1), None);

        let org: ArrayRef = Arc::new(StringArray::from(vec!["a", "a", "b"]));
        let person: ArrayRef = Arc::new(StringArray::from(vec!["x", "y", "x"]));
        let keys = encode(&[org, person]).unwrap();
        assert_eq!(Grouping::new(&keys).num_groups(), 3);
    }

    #[test]
    fn dense_and_sparse_integer_keys_group_and_probe_alike() {
        // dense: a direct-address table; sparse (and negative): the hash map
        for ids in [
            vec![1_000_003_i64, 1_000_001, 1_000_003, 1_000_002],
            vec![i64::MAX, -7, i64::MAX, 0],
        ] {
            let a: ArrayRef = Arc::new(Int64Array::from(ids.clone()));
            let keys = encode(std::slice::from_ref(&a)).unwrap();
            let g = Grouping::new(&keys);
            assert_eq!(g.group_of_row, vec![0, 1, 0, 2], "{ids:?}");
            assert_eq!(g.first_row, vec![0, 1, 3]);
            let probe: ArrayRef = Arc::new(Int64Array::from(vec![
                ids[1], ids[3], 1_000_000, 1_000_004, -1, 5,
            ]));
            let (l, r) = encode_pair(std::slice::from_ref(&a), &[probe]).unwrap();
            let g = Grouping::new(&l);
            let found: Vec<Option<u32>> = (0..6).map(|i| g.probe(&r, i)).collect();
            assert_eq!(
                found,
                vec![Some(1), Some(2), None, None, None, None],
                "{ids:?}"
            );
        }
        assert!(matches!(
            Grouping::new(
                &encode(&[Arc::new(Int64Array::from(vec![3, 1, 2])) as ArrayRef]).unwrap()
            )
            .map,
            KeyMap::Dense { min: 1, .. }
        ));
    }
}

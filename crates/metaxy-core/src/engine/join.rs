//! Joining prepared upstream frames on the join columns (reference 1.8): required
//! dependencies inner-joined in declaration order, optional ones left-joined — or, when every
//! dependency is optional, full-outer-joined with the join columns coalesced.
//!
//! The join produces row indices, not data: for every output row, the row of each upstream
//! frame it came from. Columns are gathered afterwards, only those the result needs.

use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array};

use crate::error::Result;
use crate::keys::{self, Grouping};

/// Marks "no row" (a missing optional upstream) in [`Joined::rows`].
pub(crate) const NO_ROW: u32 = u32::MAX;

/// Which rows of one upstream frame the output rows come from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Rows {
    /// Output row `i` is row `i` of the frame, and the frame has exactly the output's rows
    /// (the common case: a single dependency, or upstreams holding the same ids in order).
    Identity,
    /// The frame row of every output row, or [`NO_ROW`].
    Indices(Vec<u32>),
}

impl Rows {
    /// The frame row of output row `i`.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> u32 {
        match self {
            Rows::Identity => i as u32,
            Rows::Indices(v) => v[i],
        }
    }

    /// `Identity` when `rows` lists `0..frame_rows` in order, so nothing needs gathering.
    fn from_indices(rows: Vec<u32>, frame_rows: usize) -> Rows {
        let in_order =
            rows.len() == frame_rows && rows.iter().enumerate().all(|(i, r)| *r as usize == i);
        if in_order {
            Rows::Identity
        } else {
            Rows::Indices(rows)
        }
    }
}

/// The result of a join: row indices per upstream, and where each row's key comes from.
pub(crate) struct Joined {
    /// Output row count.
    pub len: usize,
    /// For each dependency (declaration order), the upstream rows of the output rows.
    pub rows: Vec<Rows>,
    /// The dependency whose join-column values every output row carries (the first required
    /// one, or the first of all-optional dependencies).
    base: usize,
    /// For every output row, the (dependency, row) whose join-column values it carries; `None`
    /// while every row carries the base dependency's (only a full outer join of optional
    /// dependencies adds rows that exist in another one alone).
    key_source: Option<Vec<(usize, usize)>>,
}

impl Joined {
    /// The row indices of dependency `dep` as an Arrow index array (NULL for [`NO_ROW`]).
    fn take_indices(rows: &[u32]) -> UInt32Array {
        if rows.contains(&NO_ROW) {
            rows.iter().map(|r| (*r != NO_ROW).then_some(*r)).collect()
        } else {
            UInt32Array::from(rows.to_vec())
        }
    }

    /// The row indices of dependency `dep`, or `None` when its rows are the output rows as
    /// they are (nothing to gather).
    pub(crate) fn gather_indices(&self, dep: usize) -> Option<UInt32Array> {
        match &self.rows[dep] {
            Rows::Identity => None,
            Rows::Indices(rows) => Some(Self::take_indices(rows)),
        }
    }

    /// The join-column values of every output row.
    pub(crate) fn key_columns(
        &self,
        frames: &[RecordBatch],
        join_columns: &[String],
    ) -> Result<Vec<ArrayRef>> {
        let Some(key_source) = &self.key_source else {
            let keys = keys::key_arrays(&frames[self.base], join_columns, "upstream")?;
            return gather(keys, &self.rows[self.base]);
        };
        join_columns
            .iter()
            .map(|c| {
                let sources: Vec<ArrayRef> = frames
                    .iter()
                    .map(|f| {
                        keys::key_arrays(f, std::slice::from_ref(c), "upstream")
                            .map(|mut v| v.remove(0))
                    })
                    .collect::<Result<_>>()?;
                let typed = unify_types(sources)?;
                let refs: Vec<&dyn Array> = typed.iter().map(|a| a.as_ref()).collect();
                Ok(arrow_select::interleave::interleave(&refs, key_source)?)
            })
            .collect()
    }
}

/// `arrays` (columns of one frame) at `rows`: as they are for [`Rows::Identity`].
fn gather(arrays: Vec<ArrayRef>, rows: &Rows) -> Result<Vec<ArrayRef>> {
    match rows {
        Rows::Identity => Ok(arrays),
        Rows::Indices(r) => {
            let idx = Joined::take_indices(r);
            arrays
                .iter()
                .map(|a| Ok(arrow_select::take::take(a.as_ref(), &idx, None)?))
                .collect()
        }
    }
}

/// Casts the per-upstream arrays of one join column to the first one's type.
fn unify_types(arrays: Vec<ArrayRef>) -> Result<Vec<ArrayRef>> {
    // the first typed array decides (a missing optional upstream has Null-typed columns)
    let Some(target) = arrays
        .iter()
        .map(|a| a.data_type())
        .find(|t| **t != arrow_schema::DataType::Null)
        .cloned()
    else {
        return Ok(arrays);
    };
    arrays
        .into_iter()
        .map(|a| {
            if a.data_type() == &target {
                Ok(a)
            } else {
                Ok(arrow_cast::cast(&a, &target)?)
            }
        })
        .collect()
}

/// The join of a feature's one dependency, read in pieces: every upstream row is an output
/// row, as it is (what [`join`] of one frame returns, without needing the frame as one batch).
pub(crate) fn single(len: usize) -> Joined {
    Joined {
        len,
        rows: vec![Rows::Identity],
        base: 0,
        key_source: None,
    }
}

/// Joins `frames` (one per dependency, declaration order) on `join_columns`.
pub(crate) fn join(
    frames: &[RecordBatch],
    optional: &[bool],
    join_columns: &[String],
    names: &[String],
) -> Result<Joined> {
    let deps = frames.len();
    let mut order: Vec<usize> = (0..deps).filter(|i| !optional[*i]).collect();
    let all_optional = order.is_empty();
    order.extend((0..deps).filter(|i| optional[*i]));
    let key_arrays = frames
        .iter()
        .zip(names)
        .map(|(f, n)| keys::key_arrays(f, join_columns, &format!("upstream `{n}`")))
        .collect::<Result<Vec<_>>>()?;

    let base = order[0];
    let n = frames[base].num_rows();
    let mut rows: Vec<Rows> = vec![Rows::Indices(Vec::new()); deps];
    rows[base] = Rows::Identity;
    let mut len = n;
    // `None` while every row's key is the base dependency's row `rows[base]`
    let mut key_source: Option<Vec<(usize, usize)>> = None;
    let mut joined_deps = vec![base];

    for &d in &order[1..] {
        let acc_keys = match &key_source {
            None => gather(key_arrays[base].clone(), &rows[base])?,
            Some(source) => current_keys(&key_arrays, source)?,
        };
        let (acc_enc, dep_enc) = keys::encode_pair(&acc_keys, &key_arrays[d])?;
        let mut new_rows: Vec<Vec<u32>> = vec![Vec::new(); deps];
        for &j in &joined_deps {
            new_rows[j].reserve(len);
        }
        new_rows[d].reserve(len);
        let mut new_source: Option<Vec<(usize, usize)>> =
            key_source.as_ref().map(|_| Vec::with_capacity(len));
        let mut emit = |i: usize, m: u32, new_rows: &mut Vec<Vec<u32>>| {
            for &j in &joined_deps {
                new_rows[j].push(rows[j].get(i));
            }
            new_rows[d].push(m);
            if let (Some(new), Some(old)) = (new_source.as_mut(), key_source.as_ref()) {
                new.push(old[i]);
            }
        };
        let mut unmatched: Vec<u32> = Vec::new();
        if let (Some(acc_ids), Some(dep_ids)) = (
            acc_enc.strictly_increasing_ints(),
            dep_enc.strictly_increasing_ints(),
        ) {
            // both sides in id order, each id once (the common case): one merge pass
            unmatched = keys::merge_ids(acc_ids, dep_ids, |i, m| match m {
                Some(m) => emit(i, m as u32, &mut new_rows),
                None if optional[d] => emit(i, NO_ROW, &mut new_rows),
                None => {}
            });
        } else {
            let grouping = Grouping::new(&dep_enc);
            let (offsets, members) = grouping.members();
            let mut matched = vec![false; grouping.num_groups()];
            for i in 0..len {
                match grouping.probe(&acc_enc, i) {
                    Some(g) => {
                        matched[g as usize] = true;
                        let (from, to) = (offsets[g as usize], offsets[g as usize + 1]);
                        for &m in &members[from as usize..to as usize] {
                            emit(i, m, &mut new_rows);
                        }
                    }
                    None if optional[d] => emit(i, NO_ROW, &mut new_rows),
                    None => {}
                }
            }
            for (g, hit) in matched.iter().enumerate() {
                if !hit {
                    let (from, to) = (offsets[g], offsets[g + 1]);
                    unmatched.extend_from_slice(&members[from as usize..to as usize]);
                }
            }
        }
        if all_optional && !unmatched.is_empty() {
            // full outer: upstream rows of `d` that matched nothing become rows of their own,
            // carrying their own key
            let mut source = match new_source.take() {
                Some(s) => s,
                None => new_rows[base].iter().map(|r| (base, *r as usize)).collect(),
            };
            for m in unmatched {
                for &j in &joined_deps {
                    new_rows[j].push(NO_ROW);
                }
                new_rows[d].push(m);
                source.push((d, m as usize));
            }
            new_source = Some(source);
        }
        joined_deps.push(d);
        len = new_rows[d].len();
        for &j in &joined_deps {
            rows[j] = Rows::from_indices(std::mem::take(&mut new_rows[j]), frames[j].num_rows());
        }
        key_source = new_source;
    }
    Ok(Joined {
        len,
        rows,
        base,
        key_source,
    })
}

fn current_keys(
    key_arrays: &[Vec<ArrayRef>],
    key_source: &[(usize, usize)],
) -> Result<Vec<ArrayRef>> {
    let cols = key_arrays.first().map(|k| k.len()).unwrap_or(0);
    (0..cols)
        .map(|c| {
            let per_dep = unify_types(key_arrays.iter().map(|k| k[c].clone()).collect())?;
            let refs: Vec<&dyn Array> = per_dep.iter().map(|a| a.as_ref()).collect();
            Ok(arrow_select::interleave::interleave(&refs, key_source)?)
        })
        .collect()
}

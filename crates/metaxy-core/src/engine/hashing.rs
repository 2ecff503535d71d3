//! The hashing kernels: string columns of truncated hashes built straight into Arrow buffers,
//! sample hashes over `*_by_field` structs, and struct (de)construction.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, StringArray, StructArray};
use arrow_buffer::{BooleanBufferBuilder, NullBuffer, OffsetBuffer};
use arrow_schema::{DataType, Field, Fields};
use rayon::prelude::*;

use super::preimage::Preimage;
use crate::error::{Error, Result};
use crate::hash::HashAlgorithm;

/// Builds a `Utf8` column of hashes without a per-row allocation.
pub(crate) struct HashColumnBuilder<'a> {
    values: Values<'a>,
    /// Validity, kept only from the first NULL on (most columns have none).
    nulls: Option<BooleanBufferBuilder>,
    algorithm: HashAlgorithm,
    truncation: Option<usize>,
}

/// Where a [`HashColumnBuilder`] puts its values.
enum Values<'a> {
    /// Appended one after the other, each with its end offset.
    Growing { values: Vec<u8>, offsets: Vec<i32> },
    /// Every value exactly `width` bytes, written in place into this chunk's slice of the
    /// finished column (see [`fixed_width`]): no offsets to keep, no chunks to join. A NULL
    /// leaves its slot as it is (zeros). A value of another width marks the chunk
    /// `irregular`, and the column is built again the growing way.
    Fixed {
        out: &'a mut [u8],
        width: usize,
        len: usize,
        /// The value being rendered.
        scratch: Vec<u8>,
        irregular: bool,
    },
}

impl HashColumnBuilder<'static> {
    pub(crate) fn new(rows: usize, algorithm: HashAlgorithm, truncation: Option<usize>) -> Self {
        let width = truncation.unwrap_or(64).min(64);
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        HashColumnBuilder {
            values: Values::Growing {
                values: Vec::with_capacity(rows * width),
                offsets,
            },
            nulls: None,
            algorithm,
            truncation,
        }
    }
}

impl<'a> HashColumnBuilder<'a> {
    /// A builder writing `out.len() / width` values of `width` bytes into `out`.
    fn fixed(
        out: &'a mut [u8],
        width: usize,
        algorithm: HashAlgorithm,
        truncation: Option<usize>,
    ) -> Self {
        HashColumnBuilder {
            values: Values::Fixed {
                out,
                width,
                len: 0,
                scratch: Vec::with_capacity(64),
                irregular: false,
            },
            nulls: None,
            algorithm,
            truncation,
        }
    }

    /// Appends the hash of `preimage`.
    #[inline]
    pub(crate) fn push_hash(&mut self, preimage: &[u8]) {
        let (algorithm, truncation) = (self.algorithm, self.truncation);
        self.push_rendered(|out| algorithm.hash_into(preimage, truncation, out));
    }

    /// Appends the value `render` appends to a buffer.
    #[inline]
    fn push_rendered(&mut self, render: impl FnOnce(&mut Vec<u8>)) {
        match &mut self.values {
            Values::Growing { values, offsets } => {
                render(values);
                offsets.push(values.len() as i32);
            }
            Values::Fixed {
                out,
                width,
                len,
                scratch,
                irregular,
            } => {
                scratch.clear();
                render(scratch);
                let at = *len * *width;
                match out.get_mut(at..at + *width) {
                    Some(slot) if scratch.len() == *width => {
                        super::preimage::copy_small(slot, scratch)
                    }
                    _ => *irregular = true,
                }
                *len += 1;
            }
        }
        if let Some(n) = &mut self.nulls {
            n.append(true);
        }
    }

    /// Appends NULL.
    #[inline]
    pub(crate) fn push_null(&mut self) {
        let valid_before = self.len();
        let capacity = match &mut self.values {
            Values::Growing { values, offsets } => {
                offsets.push(values.len() as i32);
                offsets.capacity()
            }
            Values::Fixed {
                out, width, len, ..
            } => {
                *len += 1;
                out.len() / *width + 1
            }
        };
        self.nulls
            .get_or_insert_with(|| {
                let mut n = BooleanBufferBuilder::new(capacity);
                n.append_n(valid_before, true);
                n
            })
            .append(false);
    }

    /// Appends the hash of `preimage`, rendered from `digest` (its
    /// [`HashAlgorithm::digest_u64`], computed beforehand) when there is one.
    #[inline]
    fn push_digest(&mut self, digest: Option<u64>, preimage: &[u8]) {
        let Some(digest) = digest else {
            return self.push_hash(preimage);
        };
        let truncation = self.truncation;
        self.push_rendered(|out| HashAlgorithm::render_u64(digest, truncation, out));
    }

    /// The number of values appended.
    #[inline]
    fn len(&self) -> usize {
        match &self.values {
            Values::Growing { offsets, .. } => offsets.len() - 1,
            Values::Fixed { len, .. } => *len,
        }
    }

    /// The value of row `row`, or `None` if it is NULL or not appended yet.
    #[inline]
    fn value(&self, row: usize) -> Option<&[u8]> {
        if row >= self.len() || self.nulls.as_ref().is_some_and(|n| !n.get_bit(row)) {
            return None;
        }
        match &self.values {
            Values::Growing { values, offsets } => {
                values.get(offsets[row] as usize..offsets[row + 1] as usize)
            }
            Values::Fixed { out, width, .. } => out.get(row * width..(row + 1) * width),
        }
    }

    /// Whether a value did not have the fixed width (always `false` for a growing builder).
    fn irregular(&self) -> bool {
        matches!(
            self.values,
            Values::Fixed {
                irregular: true,
                ..
            }
        )
    }

    pub(crate) fn finish(self) -> Result<StringArray> {
        let nulls = self.nulls.map(|mut n| NullBuffer::new(n.finish()));
        let Values::Growing { values, offsets } = self.values else {
            return Err(Error::InvalidArgument(
                "internal error: a fixed-width hash column is finished by its caller".into(),
            ));
        };
        Ok(StringArray::try_new(
            OffsetBuffer::new(offsets.into()),
            values.into(),
            nulls,
        )?)
    }
}

/// The width of every value of a hash column when it is certain up to a chance too small to
/// matter: a hex digest cut to `truncation` characters, or a 64-bit digest cut to at most 12
/// of its 19 or 20 decimal digits (shorter only for a digest below 10^11, one in 10^8 — and
/// then the column is simply built again with offsets). `None`: widths vary (no truncation,
/// 32-bit digests).
fn fixed_width(algorithm: HashAlgorithm, truncation: Option<usize>) -> Option<usize> {
    let t = truncation?;
    match algorithm {
        HashAlgorithm::Xxhash64 | HashAlgorithm::Wyhash => (1..=12).contains(&t).then_some(t),
        HashAlgorithm::Md5 => (1..=32).contains(&t).then_some(t),
        HashAlgorithm::Sha256 => (1..=64).contains(&t).then_some(t),
        HashAlgorithm::Xxhash32 => None,
    }
}

/// A `Utf8` view of one field of a `*_by_field` struct column, honouring the struct's own
/// nulls (a NULL struct row makes every field NULL).
pub(crate) struct FieldValues {
    values: StringArray,
    struct_nulls: Option<NullBuffer>,
}

impl FieldValues {
    #[inline]
    pub(crate) fn get(&self, row: usize) -> Option<&str> {
        self.is_valid(row).then(|| self.values.value(row))
    }

    /// Whether `row` has a value (neither the struct row nor the field is NULL).
    #[inline]
    fn is_valid(&self, row: usize) -> bool {
        !self.struct_nulls.as_ref().is_some_and(|n| n.is_null(row)) && !self.values.is_null(row)
    }

    /// Appends the value of `row` to `pre`; `false` (and nothing appended) when it is NULL.
    #[inline]
    pub(crate) fn push_value(&self, row: usize, pre: &mut Preimage) -> bool {
        if !self.is_valid(row) {
            return false;
        }
        let offsets = self.values.value_offsets();
        pre.push_range(
            self.values.value_data(),
            offsets[row] as usize,
            offsets[row + 1] as usize,
        );
        true
    }
}

/// Downcasts a `*_by_field` column to a struct array, with a message naming the column.
pub(crate) fn as_struct<'a>(
    array: &'a ArrayRef,
    column: &str,
    feature: &str,
) -> Result<&'a StructArray> {
    array.as_any().downcast_ref::<StructArray>().ok_or_else(|| {
        Error::schema(
            feature,
            format!(
                "`{column}` must be a struct with one string per field (e.g. {{\"audio\": \"a1\"}}), \
                 got {}",
                array.data_type()
            ),
        )
    })
}

/// The values of field `key` of a `*_by_field` struct as strings, or `None` if absent.
pub(crate) fn field_values(by_field: &StructArray, key: &str) -> Result<Option<FieldValues>> {
    let Some(child) = by_field.column_by_name(key) else {
        return Ok(None);
    };
    let values = match child.data_type() {
        DataType::Utf8 => child.as_any().downcast_ref::<StringArray>().cloned(),
        _ => None,
    };
    let values = match values {
        Some(v) => v,
        None => {
            let cast = arrow_cast::cast(child, &DataType::Utf8)?;
            cast.as_any()
                .downcast_ref::<StringArray>()
                .cloned()
                .ok_or_else(|| Error::InvalidArgument(format!("field `{key}` is not a string")))?
        }
    };
    Ok(Some(FieldValues {
        values,
        struct_nulls: by_field.nulls().cloned(),
    }))
}

/// Builds a `*_by_field` struct column from `(struct key, values)` pairs.
pub(crate) fn build_struct(children: Vec<(String, ArrayRef)>) -> Result<StructArray> {
    let fields: Fields = children
        .iter()
        .map(|(name, a)| Field::new(name, a.data_type().clone(), true))
        .collect();
    let arrays = children.into_iter().map(|(_, a)| a).collect();
    Ok(StructArray::try_new(fields, arrays, None)?)
}

/// Sample hash of a `*_by_field` struct (reference 2.13): the values of `sorted_keys` joined
/// with `|`, hashed and truncated. A NULL value makes the hash NULL.
pub(crate) fn sample_hash(
    by_field: &StructArray,
    sorted_keys: &[String],
    column: &str,
    feature: &str,
    algorithm: HashAlgorithm,
    truncation: Option<usize>,
) -> Result<StringArray> {
    let mut columns = Vec::with_capacity(sorted_keys.len());
    for k in sorted_keys {
        match field_values(by_field, k)? {
            Some(v) => columns.push(v),
            None => {
                return Err(Error::schema(
                    feature,
                    format!(
                        "`{column}` has no entry for field `{k}`; every declared field needs a value \
                         (struct fields present: {})",
                        struct_names(by_field).join(", ")
                    ),
                ));
            }
        }
    }
    hash_rows(by_field.len(), algorithm, truncation, |row, buf| {
        for (i, c) in columns.iter().enumerate() {
            match c.get(row) {
                Some(v) => {
                    if i > 0 {
                        buf.push(b'|');
                    }
                    buf.extend_from_slice(v.as_bytes());
                }
                None => return false,
            }
        }
        true
    })
}

/// Rows per parallel chunk of [`hash_columns`]: large enough to amortise scheduling, small
/// enough to balance the two halves of a small machine.
const CHUNK: usize = 64 * 1024;

/// A column of `len` hashes built in parallel chunks (both cores of a small machine, all of a
/// big one). `preimage(row, buf)` appends row `row`'s preimage to the empty `buf` and returns
/// `false` when the row's hash is NULL.
pub(crate) fn hash_rows<F>(
    len: usize,
    algorithm: HashAlgorithm,
    truncation: Option<usize>,
    preimage: F,
) -> Result<StringArray>
where
    F: Fn(usize, &mut Preimage) -> bool + Sync,
{
    let mut columns = hash_columns(len, 1, algorithm, truncation, |row, out| {
        if preimage(row, out.preimage()) {
            out.hash_preimage(0);
        } else {
            out.push_null(0);
        }
    })?;
    columns
        .pop()
        .ok_or_else(|| Error::InvalidArgument("no hash column was built".into()))
}

/// Rows whose hashes are computed together (see [`RowHashes`]): enough independent hashes to
/// keep the CPU busy while one finishes, few enough that their preimages stay in L1.
const BATCH: usize = 32;

/// One value a row closure asked for, in the order it asked.
enum Op {
    /// The hash of `pre[start..end]` of the batch, for column `col`.
    Hash {
        col: usize,
        start: usize,
        end: usize,
    },
    /// NULL for column `col`.
    Null { col: usize },
    /// The hash of the values of columns `parts[from..to]` at `row` of the chunk, joined with
    /// `|`, for column `col`.
    Joined {
        col: usize,
        row: usize,
        from: usize,
        to: usize,
    },
}

/// The work of up to [`BATCH`] rows, recorded by [`RowHashes`] and done by
/// [`Batch::flush`].
struct Batch {
    algorithm: HashAlgorithm,
    /// Every preimage of the batch, back to back.
    pre: Preimage,
    /// Where the preimage being assembled begins in `pre`.
    start: usize,
    ops: Vec<Op>,
    /// The part lists of the `Joined` ops.
    parts: Vec<usize>,
    /// The digests of a stage's preimages (`None` for the hex-rendered algorithms, which hash
    /// as they render).
    digests: Vec<Option<u64>>,
    /// The joined preimages' ranges in `pre` (`None`: a part is NULL).
    joined: Vec<Option<(usize, usize)>>,
}

impl Batch {
    fn new(algorithm: HashAlgorithm) -> Batch {
        Batch {
            algorithm,
            pre: Preimage::default(),
            start: 0,
            ops: Vec::with_capacity(4 * BATCH),
            parts: Vec::new(),
            digests: Vec::with_capacity(4 * BATCH),
            joined: Vec::with_capacity(BATCH),
        }
    }

    /// Computes every value recorded so far and appends them to `columns`, in three stages
    /// that each run over the whole batch: the direct hashes, their rendering (with the NULLs),
    /// then the joined hashes built from the values just rendered.
    fn flush(&mut self, columns: &mut [HashColumnBuilder]) -> Result<()> {
        let pre = self.pre.bytes();
        let direct = self.ops.iter().filter_map(|op| match *op {
            Op::Hash { start, end, .. } => Some((start, end)),
            _ => None,
        });
        digest_ranges(self.algorithm, pre, direct, &mut self.digests);
        let mut digests = self.digests.iter();
        let mut any_joined = false;
        for op in &self.ops {
            match *op {
                Op::Hash { col, start, end } => {
                    columns[col].push_digest(digests.next().copied().flatten(), &pre[start..end]);
                }
                Op::Null { col } => columns[col].push_null(),
                Op::Joined { .. } => any_joined = true,
            }
        }
        if any_joined {
            self.flush_joined(columns)?;
        }
        self.ops.clear();
        self.parts.clear();
        self.pre.clear();
        Ok(())
    }

    /// The `Joined` stage of [`Batch::flush`].
    fn flush_joined(&mut self, columns: &mut [HashColumnBuilder]) -> Result<()> {
        self.pre.clear();
        self.joined.clear();
        for op in &self.ops {
            let Op::Joined { row, from, to, .. } = *op else {
                continue;
            };
            let start = self.pre.len();
            let mut valid = true;
            for (i, &p) in self.parts[from..to].iter().enumerate() {
                let part = columns.get(p).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "internal error: a joined hash names column {p} of {}",
                        columns.len()
                    ))
                })?;
                match part.value(row) {
                    Some(v) => {
                        if i > 0 {
                            self.pre.push(b'|');
                        }
                        self.pre.extend_from_slice(v);
                    }
                    None => {
                        valid = false;
                        break;
                    }
                }
            }
            self.joined.push(valid.then(|| (start, self.pre.len())));
        }
        let pre = self.pre.bytes();
        let valid = self.joined.iter().flatten().copied();
        digest_ranges(self.algorithm, pre, valid, &mut self.digests);
        let mut digests = self.digests.iter();
        let mut joined = self.joined.iter();
        for op in &self.ops {
            let Op::Joined { col, row, .. } = *op else {
                continue;
            };
            let column = &mut columns[col];
            // a joined column takes its values in this stage only, so they stay in row order
            if column.len() != row {
                return Err(Error::InvalidArgument(format!(
                    "internal error: hash column {col} mixes joined and direct values"
                )));
            }
            match joined.next() {
                Some(Some((start, end))) => {
                    column.push_digest(digests.next().copied().flatten(), &pre[*start..*end]);
                }
                _ => column.push_null(),
            }
        }
        Ok(())
    }
}

/// Fills `digests` with the digest of every range of `pre`: independent hashes one after the
/// other, none waiting for a rendering.
fn digest_ranges(
    algorithm: HashAlgorithm,
    pre: &[u8],
    ranges: impl Iterator<Item = (usize, usize)>,
    digests: &mut Vec<Option<u64>>,
) {
    digests.clear();
    digests.extend(ranges.map(|(start, end)| algorithm.digest_u64(&pre[start..end])));
}

/// The values one row asks for. The row closure of [`hash_columns`] assembles a preimage and
/// asks for its hash, a NULL, or the hash of values it asked for before (the sample hash from
/// the field hashes); the work is recorded and done for a batch of rows at once.
pub(crate) struct RowHashes<'a> {
    batch: &'a mut Batch,
    /// The row's index within its chunk.
    row: usize,
}

impl RowHashes<'_> {
    /// A new, empty preimage.
    #[inline]
    pub(crate) fn preimage(&mut self) -> &mut Preimage {
        self.batch.start = self.batch.pre.len();
        &mut self.batch.pre
    }

    /// Appends the hash of the preimage assembled since the last [`RowHashes::preimage`] to
    /// column `col`.
    #[inline]
    pub(crate) fn hash_preimage(&mut self, col: usize) {
        let b = &mut *self.batch;
        b.ops.push(Op::Hash {
            col,
            start: b.start,
            end: b.pre.len(),
        });
    }

    /// Appends NULL to column `col`.
    #[inline]
    pub(crate) fn push_null(&mut self, col: usize) {
        self.batch.ops.push(Op::Null { col });
    }

    /// Appends to column `col` the hash of this row's values of columns `parts`, joined with
    /// `|` (the sample hash of reference 2.13); NULL if any of them is NULL. Column `col` must
    /// take all its values this way.
    #[inline]
    pub(crate) fn hash_joined(&mut self, col: usize, parts: &[usize]) {
        let b = &mut *self.batch;
        let from = b.parts.len();
        b.parts.extend_from_slice(parts);
        b.ops.push(Op::Joined {
            col,
            row: self.row,
            from,
            to: b.parts.len(),
        });
    }
}

/// `columns` columns of `len` hashes each, built in one pass over the rows in parallel chunks.
/// `row(i, out)` appends exactly one value (a hash or NULL) to every column for row `i`.
///
/// When every hash has one width ([`fixed_width`]), the chunks write their values straight
/// into the finished columns; otherwise each chunk builds its own pieces, joined at the end.
pub(crate) fn hash_columns<F>(
    len: usize,
    columns: usize,
    algorithm: HashAlgorithm,
    truncation: Option<usize>,
    row: F,
) -> Result<Vec<StringArray>>
where
    F: Fn(usize, &mut RowHashes<'_>) + Sync,
{
    let chunks = chunk_ranges(len);
    if let Some(width) = fixed_width(algorithm, truncation)
        && let Some(built) =
            fixed_columns(len, columns, &chunks, width, algorithm, truncation, &row)?
    {
        return Ok(built);
    }
    joined_columns(len, columns, &chunks, algorithm, truncation, &row)
}

/// The rows `start..end` of each parallel chunk of a column of `len` rows.
fn chunk_ranges(len: usize) -> Vec<(usize, usize)> {
    (0..len)
        .step_by(CHUNK)
        .map(|start| (start, (start + CHUNK).min(len)))
        .collect()
}

/// [`hash_columns`] the general way: every chunk fills builders of its own, joined per column
/// at the end.
fn joined_columns<F>(
    len: usize,
    columns: usize,
    chunks: &[(usize, usize)],
    algorithm: HashAlgorithm,
    truncation: Option<usize>,
    row: &F,
) -> Result<Vec<StringArray>>
where
    F: Fn(usize, &mut RowHashes<'_>) + Sync,
{
    let built: Vec<Vec<HashColumnBuilder>> = chunks
        .par_iter()
        .map(|&(start, end)| {
            let mut out: Vec<HashColumnBuilder> = (0..columns)
                .map(|_| HashColumnBuilder::new(end - start, algorithm, truncation))
                .collect();
            fill_chunk(start, end, &mut out, algorithm, row)?;
            Ok(out)
        })
        .collect::<Result<_>>()?;
    let mut per_column: Vec<Vec<HashColumnBuilder>> = (0..columns)
        .map(|_| Vec::with_capacity(built.len()))
        .collect();
    for chunk in built {
        for (c, b) in chunk.into_iter().enumerate() {
            per_column[c].push(b);
        }
    }
    per_column
        .into_iter()
        .map(|parts| join_chunks(parts, len, algorithm, truncation))
        .collect()
}

/// Runs `row` over the rows `start..end` (one chunk), appending to `out` (one builder per
/// column), and checks that every column got one value per row.
fn fill_chunk<F>(
    start: usize,
    end: usize,
    out: &mut [HashColumnBuilder<'_>],
    algorithm: HashAlgorithm,
    row: &F,
) -> Result<()>
where
    F: Fn(usize, &mut RowHashes<'_>) + Sync,
{
    let mut batch = Batch::new(algorithm);
    for i in start..end {
        row(
            i,
            &mut RowHashes {
                batch: &mut batch,
                row: i - start,
            },
        );
        if (i - start + 1).is_multiple_of(BATCH) {
            batch.flush(out)?;
        }
    }
    batch.flush(out)?;
    // the contract of `row`: one value per column per row, else the columns would misalign
    match out.iter().find(|b| b.len() != end - start) {
        Some(b) => Err(Error::InvalidArgument(format!(
            "internal error: a hash column got {} values for the {} rows {start}..{end}",
            b.len(),
            end - start
        ))),
        None => Ok(()),
    }
}

/// [`hash_columns`] when every value is `width` bytes: one zeroed allocation per column, each
/// chunk writing its rows' values into its own slice of it, and offsets that are multiples of
/// `width`. `Ok(None)` when a value came out another width (or the column would not fit
/// Arrow's 32-bit offsets): the caller builds the columns the general way.
fn fixed_columns<F>(
    len: usize,
    columns: usize,
    chunks: &[(usize, usize)],
    width: usize,
    algorithm: HashAlgorithm,
    truncation: Option<usize>,
    row: &F,
) -> Result<Option<Vec<StringArray>>>
where
    F: Fn(usize, &mut RowHashes<'_>) + Sync,
{
    let Some(total) = len.checked_mul(width).filter(|t| i32::try_from(*t).is_ok()) else {
        return Ok(None);
    };
    let mut buffers: Vec<Vec<u8>> = (0..columns).map(|_| vec![0u8; total]).collect();
    // chunk k's slice of every column
    let mut slices: Vec<Vec<&mut [u8]>> = chunks.iter().map(|_| Vec::new()).collect();
    for buffer in &mut buffers {
        let mut rest = buffer.as_mut_slice();
        for (&(start, end), mine) in chunks.iter().zip(&mut slices) {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut((end - start) * width);
            mine.push(head);
            rest = tail;
        }
    }
    let built: Vec<Option<Vec<Option<BooleanBufferBuilder>>>> = chunks
        .par_iter()
        .zip(slices)
        .map(|(&(start, end), mine)| {
            let mut out: Vec<HashColumnBuilder> = mine
                .into_iter()
                .map(|slice| HashColumnBuilder::fixed(slice, width, algorithm, truncation))
                .collect();
            fill_chunk(start, end, &mut out, algorithm, row)?;
            if out.iter().any(HashColumnBuilder::irregular) {
                return Ok(None);
            }
            Ok(Some(out.into_iter().map(|b| b.nulls).collect()))
        })
        .collect::<Result<_>>()?;
    let Some(built) = built.into_iter().collect::<Option<Vec<_>>>() else {
        tracing::debug!(
            width,
            "a hash came out shorter than its truncation: building the columns with offsets"
        );
        return Ok(None);
    };
    // every column's offsets are the same multiples of `width`: computed once, shared
    let step = width as i32;
    let offsets: OffsetBuffer<i32> = OffsetBuffer::new(
        (0..=len as i32)
            .map(|i| i * step)
            .collect::<Vec<_>>()
            .into(),
    );
    let mut nulls: Vec<Vec<(usize, Option<BooleanBufferBuilder>)>> = (0..columns)
        .map(|_| Vec::with_capacity(chunks.len()))
        .collect();
    for (chunk, &(start, end)) in built.into_iter().zip(chunks) {
        for (c, n) in chunk.into_iter().enumerate() {
            nulls[c].push((end - start, n));
        }
    }
    buffers
        .into_iter()
        .zip(nulls)
        .map(|(values, chunk_nulls)| {
            Ok(StringArray::try_new(
                offsets.clone(),
                values.into(),
                join_nulls(len, chunk_nulls),
            )?)
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// The validity of a column from its chunks' (`(rows, validity)`, `None`: all valid), `None`
/// when every value is valid.
fn join_nulls(
    len: usize,
    chunks: Vec<(usize, Option<BooleanBufferBuilder>)>,
) -> Option<NullBuffer> {
    if chunks.iter().all(|(_, n)| n.is_none()) {
        return None;
    }
    let mut all = BooleanBufferBuilder::new(len);
    for (rows, n) in chunks {
        match n {
            Some(mut n) => all.append_buffer(&n.finish()),
            None => all.append_n(rows, true),
        }
    }
    Some(NullBuffer::new(all.finish()))
}

/// Joins the chunks of one hash column into a single array: one allocation for the values and
/// one for the offsets, filled on every core (no growth, no second pass).
fn join_chunks(
    mut parts: Vec<HashColumnBuilder>,
    len: usize,
    algorithm: HashAlgorithm,
    truncation: Option<usize>,
) -> Result<StringArray> {
    if parts.len() < 2 {
        return parts
            .pop()
            .unwrap_or_else(|| HashColumnBuilder::new(0, algorithm, truncation))
            .finish();
    }
    let mut pieces = Vec::with_capacity(parts.len());
    for p in &mut parts {
        let Values::Growing { values, offsets } = &p.values else {
            return Err(Error::InvalidArgument(
                "internal error: fixed-width hash chunks are not joined".into(),
            ));
        };
        pieces.push((values.as_slice(), offsets.as_slice(), p.nulls.take()));
    }
    let total: usize = pieces.iter().map(|(v, _, _)| v.len()).sum();
    let total_i32 = i32::try_from(total).map_err(|_| {
        Error::InvalidArgument(format!(
            "a hash column of {len} rows would hold {total} bytes, more than one Arrow string \
             column can (2 GiB); resolve fewer samples at a time (filters) or a shorter \
             hash_truncation_length"
        ))
    })?;
    let mut values = vec![0u8; total];
    let mut offsets = vec![0i32; len + 1];
    offsets[len] = total_i32;
    // every chunk's slice of the values and of the offsets (its rows' starts)
    let mut jobs = Vec::with_capacity(pieces.len());
    let (mut rest_values, mut rest_offsets) = (values.as_mut_slice(), offsets.as_mut_slice());
    let mut base = 0usize;
    for (pv, po, _) in &pieces {
        let (v, vr) = rest_values.split_at_mut(pv.len());
        let (o, or) = rest_offsets.split_at_mut(po.len() - 1);
        jobs.push((v, o, *pv, *po, base as i32));
        base += pv.len();
        rest_values = vr;
        rest_offsets = or;
    }
    jobs.into_par_iter().for_each(|(v, o, pv, po, base)| {
        v.copy_from_slice(pv);
        for (dst, src) in o.iter_mut().zip(po) {
            *dst = base + src;
        }
    });
    let nulls = join_nulls(
        len,
        pieces
            .into_iter()
            .map(|(_, po, n)| (po.len() - 1, n))
            .collect(),
    );
    Ok(StringArray::try_new(
        OffsetBuffer::new(offsets.into()),
        values.into(),
        nulls,
    )?)
}

/// The child names of a struct array.
pub(crate) fn struct_names(s: &StructArray) -> Vec<String> {
    s.fields().iter().map(|f| f.name().to_string()).collect()
}

/// Wraps a string array as an `ArrayRef`.
pub(crate) fn arc(a: StringArray) -> ArrayRef {
    Arc::new(a)
}

/// Hashes every string of `values` (NULL stays NULL), rendered and untruncated as
/// [`HashAlgorithm::hash_str`] renders it: the kernel a backend registers as its SQL hash
/// function so that a pushed-down resolve hashes exactly like the core engine.
pub fn hash_strings(algorithm: HashAlgorithm, values: &StringArray) -> Result<StringArray> {
    let mut out = HashColumnBuilder::new(values.len(), algorithm, None);
    for v in values.iter() {
        match v {
            Some(v) => out.push_hash(v.as_bytes()),
            None => out.push_null(),
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn nulls_anywhere_in_a_hash_column_stay_null() {
        let alg = HashAlgorithm::Xxhash64;
        for values in [
            vec![Some("a"), None, Some("b"), None],
            vec![None, Some("a")],
            vec![Some("a"), Some("b")],
        ] {
            let out = hash_strings(alg, &StringArray::from(values.clone())).unwrap();
            let want: Vec<Option<String>> = values
                .iter()
                .map(|v| v.map(|v| alg.hash_str(v, None)))
                .collect();
            let got: Vec<Option<String>> = out.iter().map(|v| v.map(str::to_string)).collect();
            assert_eq!(got, want);
            assert_eq!(out.nulls().is_some(), values.contains(&None));
        }
    }

    /// A column that takes joined values for some rows and direct ones for others would get
    /// them out of row order; that is refused, not built.
    #[test]
    fn a_column_mixing_joined_and_direct_values_is_an_error() {
        let err = hash_columns(100, 2, HashAlgorithm::Xxhash64, Some(8), |row, out| {
            out.preimage().extend_from_slice(b"a");
            out.hash_preimage(0);
            if row == 40 {
                out.push_null(1);
            } else {
                out.hash_joined(1, &[0]);
            }
        })
        .unwrap_err();
        assert!(err.to_string().contains("mixes joined and direct"), "{err}");
    }

    /// Hashes written in place assume one width; a hash rendered shorter (a 32-bit digest
    /// below 10^7 has fewer than eight digits, one row in about 430) makes the in-place build
    /// give up, and `hash_columns` builds the column with offsets instead: the short values
    /// come out whole, not cut or padded.
    #[test]
    fn a_hash_of_another_width_is_built_with_offsets() {
        let (alg, truncation) = (HashAlgorithm::Xxhash32, Some(8));
        let len = 2 * CHUNK + 5;
        let row = |row: usize, out: &mut RowHashes<'_>| {
            out.preimage()
                .extend_from_slice(format!("a{row}").as_bytes());
            out.hash_preimage(0);
        };
        let want: Vec<String> = (0..len)
            .map(|r| alg.hash_str(&format!("a{r}"), truncation))
            .collect();
        assert!(
            want.iter().any(|h| h.len() < 8),
            "no short hash to test with"
        );
        let chunks = chunk_ranges(len);
        let fixed = fixed_columns(len, 1, &chunks, 8, alg, truncation, &row).unwrap();
        assert!(
            fixed.is_none(),
            "a short hash was written as if eight bytes long"
        );
        let built = hash_columns(len, 1, alg, truncation, row).unwrap();
        let got: Vec<&str> = built[0].iter().map(|v| v.unwrap()).collect();
        assert_eq!(got, want);
    }

    /// The in-place build gives what the general one gives, NULLs included.
    #[test]
    fn hashes_written_in_place_equal_hashes_joined_from_chunks() {
        let (alg, truncation) = (HashAlgorithm::Xxhash64, Some(8));
        let len = 2 * CHUNK + 5;
        let row = |row: usize, out: &mut RowHashes<'_>| {
            if row % 5 == 1 {
                out.push_null(0);
            } else {
                out.preimage()
                    .extend_from_slice(format!("a{row}").as_bytes());
                out.hash_preimage(0);
            }
            out.hash_joined(1, &[0]);
        };
        let chunks = chunk_ranges(len);
        let fixed = fixed_columns(len, 2, &chunks, 8, alg, truncation, &row)
            .unwrap()
            .unwrap();
        let general = joined_columns(len, 2, &chunks, alg, truncation, &row).unwrap();
        assert_eq!(fixed, general);
        assert_eq!(
            fixed[0].null_count(),
            (0..len).filter(|r| r % 5 == 1).count()
        );
        assert_eq!(fixed[1].null_count(), fixed[0].null_count());
    }

    /// Three chunks and a short tail, NULLs in places, full and truncated hashes, and a sample
    /// column built from the row's field columns: every value as a one-row-at-a-time
    /// computation gives it.
    #[test]
    fn chunked_columns_match_row_by_row_hashing() {
        let len = 3 * CHUNK + 17;
        let null_at = |row: usize| row % 7919 == 3 || row == CHUNK || row == len - 1;
        for (alg, truncation) in [
            (HashAlgorithm::Xxhash64, Some(8)),
            (HashAlgorithm::Xxhash32, Some(8)),
            (HashAlgorithm::Xxhash64, None),
            (HashAlgorithm::Md5, Some(10)),
        ] {
            let cols = hash_columns(len, 3, alg, truncation, |row, out| {
                out.preimage()
                    .extend_from_slice(format!("a{row}").as_bytes());
                out.hash_preimage(0);
                if null_at(row) {
                    out.push_null(1);
                } else {
                    out.preimage()
                        .extend_from_slice(format!("b{row}").as_bytes());
                    out.hash_preimage(1);
                }
                out.hash_joined(2, &[1, 0]);
            })
            .unwrap();
            assert_eq!(cols.len(), 3);
            for row in (0..len).step_by(331).chain([CHUNK - 1, CHUNK, len - 1]) {
                let a = alg.hash_str(&format!("a{row}"), truncation);
                assert_eq!(cols[0].value(row), a, "{alg} row {row}");
                if null_at(row) {
                    assert!(cols[1].is_null(row) && cols[2].is_null(row), "row {row}");
                } else {
                    let b = alg.hash_str(&format!("b{row}"), truncation);
                    assert_eq!(cols[1].value(row), b, "{alg} row {row}");
                    let sample = alg.hash_str(&format!("{b}|{a}"), truncation);
                    assert_eq!(cols[2].value(row), sample, "{alg} row {row}");
                }
            }
            assert_eq!(
                cols[1].null_count(),
                (0..len).filter(|r| null_at(*r)).count()
            );
            assert_eq!(cols[0].null_count(), 0);
        }
    }
}

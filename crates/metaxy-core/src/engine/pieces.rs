//! An upstream frame as the pieces its read kept, read where they lie.
//!
//! A backend returns a large table in parts (DuckDB: runs of up to a million rows), and when
//! keep-latest keeps every row, or one run of rows, those parts are the frame. The engine
//! reads the upstream's versions out of them for hashing instead of concatenating them first:
//! the concatenated copy was a fresh allocation of every upstream byte, most of it the data
//! versions, which only feed the hashes. Only the columns the expected frame returns (the
//! join columns, user columns) are concatenated, and only those.

use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;

use crate::error::{Error, Result};
use crate::keys;

/// The pieces of one frame: at least one batch, all of one schema, read in order.
pub(crate) struct Pieces {
    batches: Vec<RecordBatch>,
    /// The frame's row number of each piece's first row.
    starts: Vec<usize>,
    rows: usize,
}

impl Pieces {
    /// A frame of the `batches` (at least one, all of one schema), in that order.
    pub(crate) fn new(batches: Vec<RecordBatch>, what: &str) -> Result<Pieces> {
        let Some(first) = batches.first() else {
            return Err(Error::InvalidArgument(format!(
                "internal error: {what} was read as no batch at all"
            )));
        };
        if let Some(other) = batches.iter().find(|b| b.schema() != first.schema()) {
            return Err(Error::InvalidArgument(format!(
                "internal error: the pieces of {what} differ in schema ({} and {})",
                first.schema(),
                other.schema()
            )));
        }
        let mut starts = Vec::with_capacity(batches.len());
        let mut rows = 0;
        for b in &batches {
            starts.push(rows);
            rows += b.num_rows();
        }
        Ok(Pieces {
            batches,
            starts,
            rows,
        })
    }

    /// A frame of one batch.
    pub(crate) fn one(batch: RecordBatch) -> Pieces {
        let rows = batch.num_rows();
        Pieces {
            batches: vec![batch],
            starts: vec![0],
            rows,
        }
    }

    /// The frame's row count.
    pub(crate) fn num_rows(&self) -> usize {
        self.rows
    }

    /// The pieces, in order.
    pub(crate) fn batches(&self) -> &[RecordBatch] {
        &self.batches
    }

    /// The frame's schema.
    pub(crate) fn schema(&self) -> SchemaRef {
        self.batches[0].schema()
    }

    /// The frame as one batch (the batch itself when there is one piece).
    pub(crate) fn single(&self) -> Option<&RecordBatch> {
        match self.batches.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    /// Column `i` of the whole frame: the piece's own array when there is one piece, else the
    /// pieces' arrays concatenated.
    pub(crate) fn column(&self, i: usize) -> Result<ArrayRef> {
        if let Some(one) = self.single() {
            return Ok(one.column(i).clone());
        }
        let arrays: Vec<&dyn Array> = self.batches.iter().map(|b| b.column(i).as_ref()).collect();
        Ok(arrow_select::concat::concat(&arrays)?)
    }

    /// The frame's `columns` (checked as [`keys::key_arrays`] checks them, with its message),
    /// each read across the pieces.
    pub(crate) fn key_columns(&self, columns: &[String], what: &str) -> Result<Vec<ArrayRef>> {
        // one schema: the first piece's check holds for all
        keys::key_arrays(&self.batches[0], columns, what)?;
        let schema = self.schema();
        columns
            .iter()
            .map(|c| {
                let i = schema
                    .index_of(c)
                    .map_err(|e| Error::InvalidArgument(e.to_string()))?;
                self.column(i)
            })
            .collect()
    }

    /// `(piece, row within it)` of row `row` of the frame.
    #[inline]
    pub(crate) fn locate(&self, row: usize) -> (usize, usize) {
        if self.starts.len() == 1 {
            return (0, row);
        }
        let piece = self.starts.partition_point(|s| *s <= row).saturating_sub(1);
        (piece, row - self.starts[piece])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use arrow_array::Int64Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;

    use super::*;

    fn batch(ids: &[i64]) -> RecordBatch {
        RecordBatch::try_from_iter(vec![(
            "id",
            Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef,
        )])
        .unwrap()
    }

    #[test]
    fn rows_are_located_in_their_piece_and_columns_read_across_pieces() {
        let p = Pieces::new(vec![batch(&[1, 2]), batch(&[]), batch(&[3, 4, 5])], "t").unwrap();
        assert_eq!(p.num_rows(), 5);
        let located: Vec<(usize, usize)> = (0..5).map(|r| p.locate(r)).collect();
        assert_eq!(located, vec![(0, 0), (0, 1), (2, 0), (2, 1), (2, 2)]);
        let ids = p.column(0).unwrap();
        assert_eq!(
            ids.as_primitive::<Int64Type>().values().as_ref(),
            &[1, 2, 3, 4, 5]
        );
        assert!(p.single().is_none());
    }

    #[test]
    fn no_pieces_or_pieces_of_two_schemas_are_refused() {
        assert!(Pieces::new(Vec::new(), "t").is_err());
        let other = RecordBatch::try_from_iter(vec![(
            "x",
            Arc::new(Int64Array::from(vec![1])) as ArrayRef,
        )])
        .unwrap();
        let err = Pieces::new(vec![batch(&[1]), other], "t").err().unwrap();
        assert!(err.to_string().contains("differ in schema"), "{err}");
    }
}

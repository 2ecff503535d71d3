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

/// Frame rows per entry of [`Pieces`]'s block index (`row >> BLOCK_SHIFT` is a row's block).
const BLOCK_SHIFT: u32 = 12;

/// The pieces of one frame: at least one batch, all of one schema, read in order.
pub(crate) struct Pieces {
    batches: Vec<RecordBatch>,
    /// The frame's row number of each piece's first row, then the frame's row count: piece
    /// `p` holds rows `bounds[p]..bounds[p + 1]`.
    bounds: Vec<usize>,
    /// For each block of `1 << BLOCK_SHIFT` frame rows, the piece holding the block's first
    /// row. [`locate`](Self::locate) is called for every row the hashing reads, so it starts
    /// there and steps past the few pieces that end before the row, instead of a binary
    /// search over every piece (in a profile of a 5M-row DuckDB resolve, the search made the
    /// hashing loop a quarter slower than hashing one concatenated batch). Empty with one piece.
    block_first: Vec<usize>,
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
        let mut bounds = Vec::with_capacity(batches.len() + 1);
        let mut rows = 0;
        bounds.push(rows);
        for b in &batches {
            rows += b.num_rows();
            bounds.push(rows);
        }
        let block_first = if batches.len() == 1 {
            Vec::new()
        } else {
            // the first piece ending after the block's first row (empty pieces end where they
            // start, so they are never the answer)
            (0..rows.div_ceil(1 << BLOCK_SHIFT))
                .map(|block| bounds[1..].partition_point(|e| *e <= block << BLOCK_SHIFT))
                .collect()
        };
        Ok(Pieces {
            batches,
            bounds,
            block_first,
        })
    }

    /// A frame of one batch.
    pub(crate) fn one(batch: RecordBatch) -> Pieces {
        let rows = batch.num_rows();
        Pieces {
            batches: vec![batch],
            bounds: vec![0, rows],
            block_first: Vec::new(),
        }
    }

    /// The frame's row count.
    pub(crate) fn num_rows(&self) -> usize {
        self.bounds[self.bounds.len() - 1]
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

    /// `(piece, row within it)` of row `row` (below [`num_rows`](Self::num_rows)) of the
    /// frame.
    #[inline]
    pub(crate) fn locate(&self, row: usize) -> (usize, usize) {
        if self.block_first.is_empty() {
            return (0, row);
        }
        let mut piece = self.block_first[row >> BLOCK_SHIFT];
        while self.bounds[piece + 1] <= row {
            piece += 1;
        }
        (piece, row - self.bounds[piece])
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
    fn every_row_is_located_across_blocks_of_pieces_large_and_small() {
        // pieces spanning several index blocks, several pieces in one block, empty pieces
        let sizes = [5000, 0, 3000, 1, 1, 9000, 0, 100, 4096, 4095];
        let mut next = 0;
        let batches = sizes
            .iter()
            .map(|n| {
                let ids: Vec<i64> = (next..next + n).collect();
                next += n;
                batch(&ids)
            })
            .collect();
        let p = Pieces::new(batches, "t").unwrap();
        let mut expected = Vec::new();
        for (piece, n) in sizes.iter().enumerate() {
            expected.extend((0..*n as usize).map(|local| (piece, local)));
        }
        let located: Vec<(usize, usize)> = (0..p.num_rows()).map(|r| p.locate(r)).collect();
        assert_eq!(located, expected);
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

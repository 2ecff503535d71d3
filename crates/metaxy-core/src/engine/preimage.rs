//! The scratch buffer a hash preimage is assembled in, once per field per sample.
//!
//! A field's preimage is a dozen or more short pieces (labels of a few dozen bytes, values of
//! a few bytes). Copied with `extend_from_slice`, every piece is a call into `memcpy` for an
//! unknown length — about a fifth of the time of hashing a wide feature. Here a short piece is
//! copied as whole 16-byte blocks instead (a fixed-size copy the compiler turns into one
//! vector load and store): the buffer keeps slack past its length, and a piece is read from a
//! source that is readable that far (a label padded with zeros, or the values buffer of an
//! Arrow string column when the value is not at its very end). The bytes copied past a
//! piece's end are overwritten by the next piece or lie beyond the preimage's length.

/// Bytes copied at a time.
const BLOCK: usize = 16;

/// A reusable preimage buffer (see the module docs).
pub(crate) struct Preimage {
    /// Always at least `len + BLOCK` long; bytes past `len` are scratch.
    buf: Vec<u8>,
    len: usize,
}

impl Default for Preimage {
    fn default() -> Self {
        Preimage {
            buf: vec![0; 256],
            len: 0,
        }
    }
}

impl Preimage {
    /// Empties the preimage (keeps its allocation).
    #[inline]
    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    /// The number of bytes assembled.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The preimage assembled so far.
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Makes room for `n` more bytes plus a block of slack.
    #[inline]
    fn reserve(&mut self, n: usize) {
        let need = self.len + n + BLOCK;
        if need > self.buf.len() {
            self.buf.resize(need.max(2 * self.buf.len()), 0);
        }
    }

    /// Appends one byte.
    #[inline]
    pub(crate) fn push(&mut self, b: u8) {
        self.reserve(1);
        self.buf[self.len] = b;
        self.len += 1;
    }

    /// Appends `piece` (any length; one `memcpy`).
    #[inline]
    pub(crate) fn extend_from_slice(&mut self, piece: &[u8]) {
        self.reserve(piece.len());
        copy_small(&mut self.buf[self.len..self.len + piece.len()], piece);
        self.len += piece.len();
    }

    /// Appends a copy of `self.bytes()[start..end]` (a section assembled before).
    #[inline]
    pub(crate) fn copy_within(&mut self, start: usize, end: usize) {
        self.reserve(end - start);
        self.buf.copy_within(start..end, self.len);
        self.len += end - start;
    }

    /// Appends a [`Padded`] piece in whole blocks.
    #[inline]
    pub(crate) fn push_padded(&mut self, piece: &Padded) {
        self.reserve(piece.padded.len());
        for (i, block) in piece.padded.chunks_exact(BLOCK).enumerate() {
            let at = self.len + i * BLOCK;
            self.buf[at..at + BLOCK].copy_from_slice(block);
        }
        self.len += piece.len;
    }

    /// Appends `data[start..end]`: one block copy when the value is short and `data` is
    /// readable a block past `start` (every value of an Arrow string column but the last few
    /// bytes' worth), one `memcpy` otherwise.
    #[inline]
    pub(crate) fn push_range(&mut self, data: &[u8], start: usize, end: usize) {
        // both sides as arrays: a copy of one fixed size, which the compiler cannot merge
        // with the fallback's into one `memcpy` call of a selected length (as it did when
        // either side was a slice)
        if end - start <= BLOCK
            && let Some(block) = data.get(start..).and_then(|d| d.first_chunk::<BLOCK>())
        {
            self.reserve(BLOCK);
            if let Some(slot) = self.buf[self.len..].first_chunk_mut::<BLOCK>() {
                *slot = *block;
                self.len += end - start;
                return;
            }
        }
        self.extend_from_slice(&data[start..end]);
    }
}

/// `dst.copy_from_slice(src)` (equal lengths) with the 8-byte values of the default
/// truncation copied as one word: a copy of a length known only at run time is a call to
/// `memmove`, which cost an eighth of a `new` resolve's hashing (`perf`, 10M simple rows).
#[inline]
pub(crate) fn copy_small(dst: &mut [u8], src: &[u8]) {
    match (
        <&mut [u8; 8]>::try_from(&mut *dst),
        <&[u8; 8]>::try_from(src),
    ) {
        (Ok(d), Ok(s)) => *d = *s,
        _ => dst.copy_from_slice(src),
    }
}

/// A constant piece of a preimage (a label), padded with zeros to whole blocks.
pub(crate) struct Padded {
    padded: Vec<u8>,
    len: usize,
}

impl Padded {
    /// Pads `piece`.
    pub(crate) fn new(piece: &[u8]) -> Padded {
        let mut padded = piece.to_vec();
        padded.resize(piece.len().next_multiple_of(BLOCK), 0);
        Padded {
            padded,
            len: piece.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_copies_assemble_exactly_the_pieces() {
        let data = b"a1bb22ccc333-the-end";
        let labels: Vec<Padded> = ["", "|x|", "|a-label-of-exactly-32-bytes!!!|", "|y|"]
            .iter()
            .map(|l| Padded::new(l.as_bytes()))
            .collect();
        let mut p = Preimage::default();
        let mut want = Vec::new();
        for round in 0..40 {
            p.clear();
            want.clear();
            for (i, l) in labels.iter().enumerate() {
                p.push_padded(l);
                want.extend_from_slice(&l.padded[..l.len]);
                // values at the end of `data` (no block readable) and in its middle
                let (start, end) = [(0, 2), (2, 6), (13, 20), (19, 20), (20, 20)][(round + i) % 5];
                p.push_range(data, start, end);
                want.extend_from_slice(&data[start..end]);
                p.push(b'|');
                want.push(b'|');
            }
            // long pieces grow the buffer past its first allocation
            let long = vec![b'z'; 100 * round];
            p.extend_from_slice(&long);
            want.extend_from_slice(&long);
            assert_eq!(p.bytes(), want.as_slice(), "round {round}");
            // a section copied from earlier in the buffer
            let (start, end) = (round % 7, want.len() - round % 5);
            p.copy_within(start, end);
            want.extend_from_within(start..end);
            assert_eq!(p.bytes(), want.as_slice(), "round {round} copy");
        }
    }
}

//! Sample-level hash algorithms and truncation, bit-identical to Metaxy.
//!
//! Every hash is computed over the UTF-8 bytes of a preimage string and rendered as Metaxy
//! renders it: xxhash and wyhash as unsigned *decimal* integers, md5 and sha256 as lowercase
//! hex. The rendered string is then cut to the configured truncation length (a prefix; decimal
//! strings shorter than the length stay as they are).

use std::fmt;
use std::str::FromStr;

use md5::Digest as _;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The default `hash_truncation_length` of Metaxy.
pub const DEFAULT_TRUNCATION: usize = 8;

/// The smallest truncation length Metaxy accepts.
pub const MIN_TRUNCATION: usize = 8;

/// A sample-level hash algorithm (config strings as in Metaxy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashAlgorithm {
    /// XXH64 with seed 0, rendered as an unsigned decimal.
    Xxhash64,
    /// XXH32 with seed 0, rendered as an unsigned decimal. Metaxy's default for every store.
    Xxhash32,
    /// wyhash (the `wyhash` 0.6 crate, seed 0), rendered as an unsigned decimal.
    Wyhash,
    /// MD5, rendered as 32 lowercase hex characters.
    Md5,
    /// SHA-256, rendered as 64 lowercase hex characters.
    Sha256,
}

impl HashAlgorithm {
    /// Every algorithm the core engine implements.
    pub const ALL: [HashAlgorithm; 5] = [
        HashAlgorithm::Xxhash64,
        HashAlgorithm::Xxhash32,
        HashAlgorithm::Wyhash,
        HashAlgorithm::Md5,
        HashAlgorithm::Sha256,
    ];

    /// The config string of the algorithm.
    pub fn as_str(self) -> &'static str {
        match self {
            HashAlgorithm::Xxhash64 => "xxhash64",
            HashAlgorithm::Xxhash32 => "xxhash32",
            HashAlgorithm::Wyhash => "wyhash",
            HashAlgorithm::Md5 => "md5",
            HashAlgorithm::Sha256 => "sha256",
        }
    }

    /// Hashes `input` and appends the rendered, truncated hash to `out`.
    ///
    /// This is the kernel the engine calls once per field per sample; it allocates nothing.
    #[inline]
    pub fn hash_into(self, input: &[u8], truncation: Option<usize>, out: &mut Vec<u8>) {
        let limit = truncation.unwrap_or(usize::MAX);
        if let Some(digest) = self.digest_u64(input) {
            return push_decimal(digest, limit, out);
        }
        match self {
            HashAlgorithm::Md5 => push_hex(&md5::Md5::digest(input), limit, out),
            _ => push_hex(&sha2::Sha256::digest(input), limit, out),
        }
    }

    /// The integer digest of `input` for the algorithms rendered as decimals (xxhash, wyhash),
    /// `None` for the hex-rendered ones. Hashing and rendering are split so that the engine
    /// can hash a batch of rows before rendering any: independent hashes overlap in the CPU,
    /// a hash followed by its rendering (a chain of dependent multiplications) does not.
    #[inline]
    pub(crate) fn digest_u64(self, input: &[u8]) -> Option<u64> {
        match self {
            HashAlgorithm::Xxhash64 => Some(xxhash_rust::xxh64::xxh64(input, 0)),
            HashAlgorithm::Xxhash32 => Some(u64::from(xxhash_rust::xxh32::xxh32(input, 0))),
            HashAlgorithm::Wyhash => Some(wyhash::wyhash(input, 0)),
            HashAlgorithm::Md5 | HashAlgorithm::Sha256 => None,
        }
    }

    /// Appends a digest of [`HashAlgorithm::digest_u64`], rendered and truncated exactly as
    /// [`HashAlgorithm::hash_into`] renders it.
    #[inline]
    pub(crate) fn render_u64(digest: u64, truncation: Option<usize>, out: &mut Vec<u8>) {
        push_decimal(digest, truncation.unwrap_or(usize::MAX), out);
    }

    /// Hashes `input` and returns the rendered, truncated hash.
    pub fn hash_str(self, input: &str, truncation: Option<usize>) -> String {
        let mut out = Vec::with_capacity(64);
        self.hash_into(input.as_bytes(), truncation, &mut out);
        // The rendering is ASCII digits or hex, always valid UTF-8.
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HashAlgorithm {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        HashAlgorithm::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unknown hash algorithm {s:?}; use one of xxhash64, xxhash32, wyhash, md5, sha256"
                ))
            })
    }
}

/// `10^k` for every `k` a `u64` decimal can drop.
const POW10: [u64; 20] = {
    let mut p = [1u64; 20];
    let mut k = 1;
    while k < 20 {
        p[k] = p[k - 1] * 10;
        k += 1;
    }
    p
};

/// Fixed-point precision of the reciprocals below.
const RECIP_SHIFT: u32 = 82;
/// `ceil(2^82 / 5^11)` and `ceil(2^82 / 5^12)`: `(x * RECIP_5[i]) >> 82 == x / 5^(11 + i)`
/// for every `x < 2^(53 - i)` — the rounding error of the reciprocal, times `x`, stays below
/// one unit: `x * 5^(11 + i) < 2^80 < 2^82`.
const RECIP_5: [u128; 2] = [
    (1u128 << RECIP_SHIFT) / 48_828_125 + 1,
    (1u128 << RECIP_SHIFT) / 244_140_625 + 1,
];

/// Appends the first `limit` decimal digits of `v`. A truncated hash needs only its leading
/// digits: dividing off the rest first and rendering the short number is about twice as fast
/// as rendering all twenty digits and cutting (this runs once per field per sample).
#[inline]
fn push_decimal(v: u64, limit: usize, out: &mut Vec<u8>) {
    // The default truncation cuts a 19- or 20-digit hash (19 of 20 hashes) to 8 digits:
    // constant divisors (a multiplication, not a division), chosen without a branch — the
    // digit count of a hash is a coin toss, which a branch predictor loses half the time —
    // and eight digits written as one store.
    if limit == 8 && v >= POW10[18] {
        // Written as two divisions and a select, the compiler turns this into a jump (or one
        // `div` by a selected divisor): dozens of cycles. 10^s = 2^s * 5^s: shift off 2^s,
        // then multiply by a fixed-point reciprocal of 5^s looked up by the digit count.
        let twenty = usize::from(v >= POW10[19]);
        let q = ((u128::from(v >> (11 + twenty)) * RECIP_5[twenty]) >> RECIP_SHIFT) as u64;
        push_eight_digits(q, out);
        return;
    }
    let digits = v.checked_ilog10().map_or(1, |d| d as usize + 1);
    let mut buf = itoa::Buffer::new();
    match digits.checked_sub(limit) {
        Some(drop) if drop > 0 => out.extend_from_slice(buf.format(v / POW10[drop]).as_bytes()),
        _ => out.extend_from_slice(buf.format(v).as_bytes()),
    }
}

/// Appends `v` (below 10^8; exactly eight digits when called from [`push_decimal`]) as eight
/// digits, computed in the lanes of one 64-bit word (no table, no loop): the halves of `v`
/// into two 32-bit lanes, each into two 16-bit lanes of two digits, each into two bytes of one
/// digit — divisions by 10^4, 100 and 10 done as multiply-and-shift, exact for these ranges.
#[inline]
fn push_eight_digits(v: u64, out: &mut Vec<u8>) {
    // lanes are little-endian: the leading digits go to the low lane, the first byte
    let x = (v / 10_000) | ((v % 10_000) << 32);
    // per 32-bit lane (below 10^4): lane / 100 == (lane * 10486) >> 20
    let hundreds = ((x * 10_486) >> 20) & 0x0000_007F_0000_007F;
    let y = hundreds | ((x - hundreds * 100) << 16);
    // per 16-bit lane (below 100): lane / 10 == (lane * 103) >> 10
    let tens = ((y * 103) >> 10) & 0x000F_000F_000F_000F;
    let z = tens | ((y - tens * 10) << 8);
    out.extend_from_slice(&(z | 0x3030_3030_3030_3030).to_le_bytes());
}

#[inline]
fn push_hex(digest: &[u8], limit: usize, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut left = limit;
    for b in digest {
        if left == 0 {
            break;
        }
        out.push(HEX[(b >> 4) as usize]);
        left -= 1;
        if left == 0 {
            break;
        }
        out.push(HEX[(b & 0xf) as usize]);
        left -= 1;
    }
}

/// Cuts a version string to the truncation length (a prefix; shorter strings are unchanged).
pub fn truncate(s: &str, truncation: Option<usize>) -> &str {
    match truncation {
        Some(n) if s.len() > n => s.get(..n).unwrap_or(s),
        _ => s,
    }
}

/// Validates a configured truncation length (`>= 8`, as in Metaxy).
pub fn validate_truncation(len: usize) -> Result<usize> {
    if len < MIN_TRUNCATION {
        return Err(Error::InvalidArgument(format!(
            "hash_truncation_length must be at least {MIN_TRUNCATION}, got {len}"
        )));
    }
    Ok(len)
}

/// An incremental SHA-256 over concatenated UTF-8 pieces, used for definition-level versions
/// (field, feature, code, spec, definition and project versions are always SHA-256).
#[derive(Default, Clone)]
pub struct DefinitionHasher(sha2::Sha256);

impl DefinitionHasher {
    /// A fresh hasher.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the UTF-8 bytes of `piece` (no separator is added).
    pub fn update(&mut self, piece: &str) -> &mut Self {
        self.0.update(piece.as_bytes());
        self
    }

    /// The lowercase hex digest, truncated.
    pub fn finish(self, truncation: Option<usize>) -> String {
        let mut out = Vec::with_capacity(64);
        push_hex(
            &self.0.finalize(),
            truncation.unwrap_or(usize::MAX),
            &mut out,
        );
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use HashAlgorithm::*;
    use proptest::prelude::*;

    proptest! {
        /// The shortcut rendering equals rendering every digit and cutting, at every length.
        #[test]
        fn decimal_prefix_equals_rendering_then_cutting(
            v in prop_oneof![
                any::<u64>(),
                0u64..1000,
                Just(u64::MAX),
                Just(10_000_000_000),
                // 19 and 20 digits, the usual hashes, at their edges
                Just(1_000_000_000_000_000_000),
                Just(9_999_999_999_999_999_999),
                Just(10_000_000_000_000_000_000),
                1_000_000_000_000_000_000u64..10_000_000_000_000_000_000,
            ],
            limit in prop_oneof![1usize..25, Just(8usize)],
        ) {
            let mut out = Vec::new();
            push_decimal(v, limit, &mut out);
            let full = v.to_string();
            prop_assert_eq!(String::from_utf8(out).unwrap(), &full[..full.len().min(limit)]);
        }
    }

    /// The reciprocal division of the 8-digit shortcut over a million spread 19- and 20-digit
    /// values and the edges of both ranges.
    #[test]
    fn eight_leading_digits_of_long_hashes() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let spread = (0..1_000_000).map(|_| {
            // xorshift: every bit pattern, so both digit counts and every leading digit
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        });
        let edges = [
            POW10[18],
            POW10[18] + 1,
            POW10[19] - 1,
            POW10[19],
            POW10[19] + 1,
            u64::MAX,
            u64::MAX - 1,
        ];
        for v in spread.chain(edges) {
            let mut out = Vec::new();
            push_decimal(v, 8, &mut out);
            let full = v.to_string();
            assert_eq!(
                std::str::from_utf8(&out).unwrap(),
                &full[..full.len().min(8)]
            );
        }
    }

    /// The word-lane rendering of eight digits, zero-padded, against the formatter.
    #[test]
    fn eight_digits_in_one_word() {
        let edges = [
            0, 9, 10, 99, 100, 9_999, 10_000, 10_099, 99_999_999, 10_000_000,
        ];
        for v in (0..100_000_000u64).step_by(997).chain(edges) {
            let mut out = Vec::new();
            push_eight_digits(v, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), format!("{v:08}"), "{v}");
        }
    }

    /// The published vectors of Metaxy (reference section 2.10), untruncated.
    #[test]
    fn published_vectors_untruncated() {
        let cases: [(&str, [&str; 5]); 4] = [
            (
                "audio|1|example/video.audio|a1",
                [
                    "15929452176438141414",
                    "2130832546",
                    "1694545562788736572",
                    "0a2951887f6faebbbd274ec2d734eb6d",
                    "e13dd0d9bc5e3269eb2b09f513e34012c0e70b0ca7ba7cc3b6ca821f184fbb7f",
                ],
            ),
            (
                "",
                [
                    "17241709254077376921",
                    "46947589",
                    "17969918002310452037",
                    "d41d8cd98f00b204e9800998ecf8427e",
                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                ],
            ),
            (
                "hello",
                [
                    "2794345569481354659",
                    "4211111929",
                    "14145495742716996351",
                    "5d41402abc4b2a76b9719d911017c592",
                    "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
                ],
            ),
            (
                "a|b",
                [
                    "17431929565602758385",
                    "3435035013",
                    "11577900609456985749",
                    "d0726241020676b14aa6298ce6a18b21",
                    "0eab8a0a",
                ],
            ),
        ];
        for (input, expected) in cases {
            for (alg, want) in [Xxhash64, Xxhash32, Wyhash, Md5, Sha256]
                .into_iter()
                .zip(expected)
            {
                let got = alg.hash_str(input, None);
                assert!(
                    got.starts_with(want),
                    "{alg} of {input:?}: got {got}, want {want}"
                );
            }
        }
    }

    #[test]
    fn truncation_is_a_prefix() {
        assert_eq!(
            Xxhash64.hash_str("audio|1|example/video.audio|a1", Some(8)),
            "15929452"
        );
        assert_eq!(
            Xxhash32.hash_str("audio|1|example/video.audio|a1", Some(8)),
            "21308325"
        );
        assert_eq!(
            Wyhash.hash_str("audio|1|example/video.audio|a1", Some(8)),
            "16945455"
        );
        assert_eq!(
            Sha256.hash_str("audio|1|example/video.audio|a1", Some(8)),
            "e13dd0d9"
        );
        assert_eq!(
            Md5.hash_str("audio|1|example/video.audio|a1", Some(8)),
            "0a295188"
        );
        // odd truncation of hex output
        assert_eq!(Md5.hash_str("hello", Some(9)), "5d41402ab");
        // a 16-char truncation of a decimal can be the whole (shorter) string
        assert_eq!(Xxhash32.hash_str("hello", Some(16)), "4211111929");
        assert_eq!(truncate("123456789", Some(8)), "12345678");
        assert_eq!(truncate("1234", Some(8)), "1234");
    }

    #[test]
    fn sample_hash_vectors() {
        // Crop sample hash (reference A.2)
        assert_eq!(Xxhash64.hash_str("15929452|83395819", Some(8)), "10315265");
        // root Video {a1, f1} with xxhash32
        assert_eq!(Xxhash32.hash_str("a1|f1", Some(8)), "10888532");
        assert_eq!(Xxhash32.hash_str("X|Y", Some(8)), "22818664");
    }

    #[test]
    fn definition_hasher_matches_reference() {
        let mut h = DefinitionHasher::new();
        h.update("audio").update("1").update("frames").update("1");
        assert_eq!(h.finish(Some(8)), "7957714b");
    }

    #[test]
    fn algorithm_names_round_trip() {
        for a in HashAlgorithm::ALL {
            assert_eq!(a.as_str().parse::<HashAlgorithm>().unwrap(), a);
        }
        assert!("blake3".parse::<HashAlgorithm>().is_err());
        assert!(validate_truncation(7).is_err());
        assert_eq!(validate_truncation(8).unwrap(), 8);
    }
}

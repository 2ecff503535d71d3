//! # metaxy-core
//!
//! The heart of metaxy-rs, a Rust implementation of [Metaxy](https://github.com/anam-org/metaxy):
//! the metadata layer that tells a multimodal ML pipeline exactly which samples must be
//! (re)computed — and not a sample more.
//!
//! ## The model in a page
//!
//! * A **feature** ([`FeatureSpec`]) is a table of metadata rows, one per **sample**,
//!   identified by its id columns (`sample_uid`). Its **fields** are the logical parts of the
//!   payload (`audio`, `frames`), each versioned separately.
//! * Features depend on upstream features ([`spec::FeatureDep`]): 1:1, N:1 (aggregation) or
//!   1:N (expansion), optionally with renames, column selection and SQL filters. Each field
//!   depends on fields of the upstreams — automatically by name, or explicitly.
//! * The [`FeatureGraph`] validates the definitions and computes the definition-level
//!   versions: a field's version hashes its code version and its parents' versions, a
//!   feature's version hashes its fields' versions (SHA-256, bit-identical to Metaxy).
//! * Every stored row carries sample-level versions: `metaxy_provenance_by_field` (one hash per
//!   field, from the upstream samples' *data versions*), `metaxy_provenance` (their sample
//!   hash), and the data versions (equal to the provenance unless the user overrides them).
//! * A [`MetadataStore`] keeps one append-only table per feature on a pluggable [`Backend`]
//!   and answers [`MetadataStore::resolve_update`]: an [`Increment`] of `new`, `stale` (with
//!   the fields that changed) and `orphaned` samples. A change to the audio step leaves
//!   frame-only downstream steps untouched.
//!
//! ```
//! use std::sync::Arc;
//! use metaxy_core::{FeatureGraph, FeatureSpec, MetadataStore, MemoryBackend, AccessMode, ResolveOptions};
//! use metaxy_core::spec::{Dep, Field};
//! # use arrow_array::{RecordBatch, Int64Array, StringArray, StructArray, ArrayRef};
//! # use arrow_schema::{Field as ArrowField, DataType};
//! # fn video_rows() -> RecordBatch {
//! #     let pbf = StructArray::from(vec![
//! #         (Arc::new(ArrowField::new("audio", DataType::Utf8, false)), Arc::new(StringArray::from(vec!["a1", "a2"])) as ArrayRef),
//! #         (Arc::new(ArrowField::new("frames", DataType::Utf8, false)), Arc::new(StringArray::from(vec!["f1", "f2"])) as ArrayRef),
//! #     ]);
//! #     RecordBatch::try_from_iter(vec![
//! #         ("sample_uid", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
//! #         ("metaxy_provenance_by_field", Arc::new(pbf) as ArrayRef),
//! #     ]).unwrap()
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> metaxy_core::Result<()> {
//! let video = FeatureSpec::builder("example/video")
//!     .id_columns(["sample_uid"])
//!     .field(Field::new("audio").code_version("1"))
//!     .field(Field::new("frames").code_version("1"))
//!     .build()?;
//! let crop = FeatureSpec::builder("example/crop")
//!     .id_columns(["sample_uid"])
//!     .dep(Dep::on("example/video"))
//!     .field(Field::new("audio").code_version("1"))
//!     .field(Field::new("frames").code_version("1"))
//!     .build()?;
//! let graph = FeatureGraph::new([video, crop])?;
//! let store = MetadataStore::new(Arc::new(MemoryBackend::new()), graph);
//! let _open = store.open(AccessMode::Write).await?;
//! store.write("example/video", video_rows()).await?;
//! let increment = store.resolve_update("example/crop", ResolveOptions::new()).await?;
//! assert_eq!(increment.new.num_rows(), 2); // both videos still need cropping
//! # Ok(()) }
//! ```

/// The README's Rust example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

pub mod backend;
pub mod batches;
pub mod canonical_json;
pub mod columns;
pub mod config;
pub mod engine;
pub mod error;
pub mod filter;
pub mod graph;
pub mod hash;
pub mod increment;
pub mod json_columns;
pub mod key;
pub(crate) mod keys;
pub mod pushdown;
pub mod spec;
pub mod store;

pub use backend::{AccessMode, Backend, Capabilities, MemoryBackend, ScanRequest};
pub use engine::HashSettings;
pub use error::{Error, Result};
pub use filter::Expr;
pub use graph::FeatureGraph;
pub use hash::HashAlgorithm;
pub use increment::Increment;
pub use key::{FeatureKey, FieldKey, IntoFeatureKey};
pub use spec::FeatureSpec;
pub use store::{
    DeleteOptions, MetadataStore, ReadOptions, ResolveOptions, StoreGuard, StoreSettings,
    WriteOptions,
};

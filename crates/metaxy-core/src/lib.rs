//! # metaxy-core
//!
//! The heart of metaxy-rs, a Rust implementation of [Metaxy](https://github.com/anam-org/metaxy):
//! the metadata layer that tells a multimodal ML pipeline exactly which samples must be
//! (re)computed — and not a sample more.
//!
//! (The full model overview lives further down this page once every module exists.)

pub mod canonical_json;
pub mod columns;
pub mod error;
pub mod filter;
pub mod graph;
pub mod hash;
pub mod key;
pub mod spec;

pub use error::{Error, Result};
pub use graph::FeatureGraph;
pub use hash::HashAlgorithm;
pub use key::{FeatureKey, FieldKey};
pub use spec::FeatureSpec;

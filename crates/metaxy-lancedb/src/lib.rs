//! # metaxy-lancedb
//!
//! The LanceDB backend of metaxy-rs: feature metadata as Lance tables in a LanceDB database,
//! next to the embeddings and media the features describe, named as Python Metaxy's
//! `LanceDBMetadataStore` names them.
//!
//! * One Lance table per feature, named [`FeatureKey::table_name`](metaxy_core::FeatureKey::table_name)
//!   (`example/video` → `example__video`); `*_by_field` columns are Lance structs of strings.
//! * Appends are Lance appends; new columns and struct fields are added as all-NULL columns
//!   first (a metadata-only change), never by rewriting rows.
//! * Scans push projections and filters into Lance's scanner; rows are selected by the core's
//!   own filter evaluator, so every backend agrees. Filters never become SQL text.
//! * Hard deletes are Lance deletes; dropping a feature drops its table.
//! * Local directories work out of the box; `s3://`, `gs://` and `az://` need the `aws`,
//!   `gcs` and `azure` features. Credentials come from `storage_options` or the environment
//!   and are never logged.
//! * Versioning runs in the core engine over the scanned id and version columns.
//!
//! ```no_run
//! # async fn demo() -> metaxy_core::Result<()> {
//! use metaxy_lancedb::{LanceDbBackend, LanceDbConfig};
//! let backend = LanceDbBackend::new(LanceDbConfig::new("/data/lance/metaxy"))?;
//! # let _ = backend; Ok(()) }
//! ```

mod backend;
mod config;
mod registry;
mod types;

pub use backend::LanceDbBackend;
pub use config::{ConnectKwarg, LanceDbConfig};
pub use registry::{TYPE_NAMES, register};

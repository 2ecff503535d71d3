//! # metaxy-delta
//!
//! The Delta Lake backend of metaxy-rs: feature metadata as Delta tables on a local disk or
//! object storage, laid out exactly as Python Metaxy's `DeltaMetadataStore` lays them out, so
//! either implementation reads and extends the other's store.
//!
//! * One Delta table per feature: `<root>/<part1>/<part2>.delta` (nested layout, default) or
//!   `<root>/<table_name>.delta` (flat). `*_by_field` columns are Delta structs of strings.
//! * Appends are Delta commits with schema merging; several processes may append at once.
//! * Scans push projections and filters down (file skipping on statistics, row-group
//!   pruning); rows are selected by the core's own filter evaluator, so every backend agrees.
//! * Hard deletes are Delta deletes; dropping a feature removes its table.
//! * Object storage: `s3://` with the default `s3` feature, `az://`/`abfss://` with `azure`,
//!   `gs://` with `gcs`. Credentials come from `storage_options` or the environment and are
//!   never logged.
//! * Versioning runs in the core engine over the scanned id and version columns.
//!
//! ```no_run
//! # async fn demo() -> metaxy_core::Result<()> {
//! use metaxy_delta::{DeltaBackend, DeltaConfig};
//! let backend = DeltaBackend::new(
//!     DeltaConfig::new("s3://my-bucket/metaxy")
//!         .with_storage_option("AWS_REGION", "eu-west-1"),
//! )?;
//! # let _ = backend; Ok(()) }
//! ```

mod backend;
mod config;
mod location;
mod registry;
mod retry;
mod types;

pub use backend::DeltaBackend;
pub use config::{DeltaConfig, Layout, toml_value};
pub use registry::{TYPE_NAMES, register};

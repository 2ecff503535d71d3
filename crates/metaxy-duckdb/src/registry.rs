//! Registration of the `duckdb` store type in a [`BackendRegistry`].

use std::sync::Arc;

use metaxy_core::config::{BackendContext, BackendRegistry};
use metaxy_core::{Backend, Result};

use crate::{DuckDbBackend, DuckDbConfig};

/// The type names this backend answers to in `metaxy.toml`.
pub const TYPE_NAMES: [&str; 3] = [
    "duckdb",
    "metaxy.ext.duckdb.DuckDBMetadataStore",
    "metaxy.ext.metadata_stores.duckdb.DuckDBMetadataStore",
];

/// Registers the DuckDB backend under `duckdb` and Metaxy's class paths.
pub fn register(registry: &mut BackendRegistry) {
    registry.register(&TYPE_NAMES, construct);
}

fn construct(ctx: &BackendContext<'_>) -> Result<Arc<dyn Backend>> {
    let mut config: DuckDbConfig = ctx.parse()?;
    if config.database.is_empty() {
        return Err(ctx.error("database", "missing: a file path or \":memory:\""));
    }
    if !config.is_memory() {
        config.database = ctx.path(&config.database).to_string_lossy().into_owned();
    }
    Ok(Arc::new(DuckDbBackend::new(config)))
}

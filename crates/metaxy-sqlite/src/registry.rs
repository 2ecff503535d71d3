//! Registration of the `sqlite` store type in a [`BackendRegistry`].

use std::sync::Arc;

use metaxy_core::config::{BackendContext, BackendRegistry};
use metaxy_core::{Backend, Result};

use crate::{SqliteBackend, SqliteConfig};

/// The type names this backend answers to in `metaxy.toml` (Python Metaxy has no SQLite store).
pub const TYPE_NAMES: [&str; 1] = ["sqlite"];

/// Registers the SQLite backend under `sqlite`.
pub fn register(registry: &mut BackendRegistry) {
    registry.register(&TYPE_NAMES, construct);
}

fn construct(ctx: &BackendContext<'_>) -> Result<Arc<dyn Backend>> {
    let mut config: SqliteConfig = ctx.parse()?;
    if config.database.is_empty() {
        return Err(ctx.error("database", "missing: a file path or \":memory:\""));
    }
    if !config.is_memory() {
        config.database = ctx.path(&config.database).to_string_lossy().into_owned();
    }
    Ok(Arc::new(SqliteBackend::new(config)))
}

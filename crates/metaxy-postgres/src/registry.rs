//! Registration of the `postgres` store type in a [`BackendRegistry`].

use std::sync::Arc;

use metaxy_core::config::{BackendContext, BackendRegistry};
use metaxy_core::{Backend, Result};

use crate::{PostgresBackend, PostgresConfig};

/// The type names this backend answers to in `metaxy.toml`.
pub const TYPE_NAMES: [&str; 4] = [
    "postgres",
    "postgresql",
    "metaxy.ext.postgresql.PostgreSQLMetadataStore",
    "metaxy.ext.metadata_stores.postgresql.PostgreSQLMetadataStore",
];

/// Registers the PostgreSQL backend under `postgres` and Metaxy's class paths.
pub fn register(registry: &mut BackendRegistry) {
    registry.register(&TYPE_NAMES, construct);
}

fn construct(ctx: &BackendContext<'_>) -> Result<Arc<dyn Backend>> {
    let config: PostgresConfig = ctx.parse()?;
    if config.url.is_none() && config.host.is_none() && config.database.is_none() {
        return Err(ctx.error(
            "url",
            "missing: give `url = \"postgres://user@host:5432/db\"` or host/database",
        ));
    }
    config
        .connect_options()
        .map_err(|e| ctx.error("url", e.to_string()))?;
    Ok(Arc::new(PostgresBackend::new(config)))
}

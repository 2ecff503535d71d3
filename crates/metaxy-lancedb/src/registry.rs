//! Registration of the `lancedb` store type in a [`BackendRegistry`].

use std::sync::Arc;

use metaxy_core::config::{BackendContext, BackendRegistry};
use metaxy_core::{Backend, Error, Result};

use crate::{LanceDbBackend, LanceDbConfig};

/// The type names this backend answers to in `metaxy.toml`: the short name and Python
/// Metaxy's class paths (current and deprecated), so one config file serves both.
pub const TYPE_NAMES: [&str; 3] = [
    "lancedb",
    "metaxy.ext.lancedb.LanceDBMetadataStore",
    "metaxy.ext.metadata_stores.lancedb.LanceDBMetadataStore",
];

/// Registers the LanceDB backend under [`TYPE_NAMES`].
pub fn register(registry: &mut BackendRegistry) {
    registry.register(&TYPE_NAMES, construct);
}

fn construct(ctx: &BackendContext<'_>) -> Result<Arc<dyn Backend>> {
    let mut config: LanceDbConfig = ctx.parse()?;
    if config.uri.trim().is_empty() {
        return Err(ctx.error(
            "uri",
            "missing: a directory or an object-store URI such as s3://bucket/prefix",
        ));
    }
    if !config.uri.contains("://") {
        // Relative local paths are relative to the config file, like every other path.
        config.uri = ctx.path(&config.uri).to_string_lossy().into_owned();
    }
    if let Err((key, message)) = config.effective_storage_options() {
        return Err(ctx.error(&key, message));
    }
    match LanceDbBackend::new(config) {
        Ok(b) => Ok(Arc::new(b)),
        Err(Error::InvalidArgument(message)) => Err(ctx.error("uri", message)),
        Err(e) => Err(e),
    }
}

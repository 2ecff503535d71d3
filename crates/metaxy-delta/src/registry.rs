//! Registration of the `delta` store type in a [`BackendRegistry`].

use std::sync::Arc;

use metaxy_core::config::{BackendContext, BackendRegistry};
use metaxy_core::{Backend, Error, Result};

use crate::{DeltaBackend, DeltaConfig};

/// The type names this backend answers to in `metaxy.toml`: the short name and Python
/// Metaxy's class paths (current and deprecated), so one config file serves both.
pub const TYPE_NAMES: [&str; 3] = [
    "delta",
    "metaxy.ext.polars.handlers.delta.DeltaMetadataStore",
    "metaxy.ext.metadata_stores.delta.DeltaMetadataStore",
];

/// Registers the Delta backend under [`TYPE_NAMES`].
pub fn register(registry: &mut BackendRegistry) {
    registry.register(&TYPE_NAMES, construct);
}

fn construct(ctx: &BackendContext<'_>) -> Result<Arc<dyn Backend>> {
    let mut config: DeltaConfig = ctx.parse()?;
    if config.root_path.trim().is_empty() {
        return Err(ctx.error(
            "root_path",
            "missing: a directory or an object-store URI such as s3://bucket/prefix",
        ));
    }
    if !config.root_path.contains("://") {
        // Relative local roots are relative to the config file, like every other path.
        config.root_path = ctx.path(&config.root_path).to_string_lossy().into_owned();
    }
    if let Err((key, message)) = config.check_write_options() {
        return Err(ctx.error(&key, message));
    }
    match DeltaBackend::new(config) {
        Ok(b) => Ok(Arc::new(b)),
        Err(Error::InvalidArgument(message)) => Err(ctx.error("root_path", message)),
        Err(e) => Err(e),
    }
}

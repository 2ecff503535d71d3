//! How the suite and the golden runner get fresh backends.

use std::sync::Arc;

use async_trait::async_trait;
use metaxy_core::{Backend, MemoryBackend, Result};

/// Creates isolated, empty backends for tests: each call gets its own file, directory,
/// database schema or memory, so tests can run in parallel and leave nothing behind.
#[async_trait]
pub trait BackendFactory: Send + Sync {
    /// A short name for messages (`memory`, `duckdb`, ...).
    fn name(&self) -> String;

    /// A fresh, empty backend.
    async fn fresh(&self) -> Result<Arc<dyn Backend>>;

    /// Removes whatever the factory created (temporary schemas, ...). Default: nothing.
    async fn finish(&self) -> Result<()> {
        Ok(())
    }
}

/// Fresh [`MemoryBackend`]s.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemoryFactory;

#[async_trait]
impl BackendFactory for MemoryFactory {
    fn name(&self) -> String {
        "memory".into()
    }

    async fn fresh(&self) -> Result<Arc<dyn Backend>> {
        Ok(Arc::new(MemoryBackend::new()))
    }
}

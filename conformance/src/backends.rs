//! The backends the golden runner can drive, chosen by name.

use crate::factory::{BackendFactory, MemoryFactory};

/// The names of the backends compiled into this build.
pub fn available() -> Vec<&'static str> {
    let mut names = vec!["memory"];
    if cfg!(feature = "duckdb") {
        names.push("duckdb");
    }
    if cfg!(feature = "sqlite") {
        names.push("sqlite");
    }
    names
}

/// A factory for the named backend.
pub fn factory(name: &str) -> Result<Box<dyn BackendFactory>, String> {
    match name {
        "memory" => Ok(Box::new(MemoryFactory)),
        #[cfg(feature = "duckdb")]
        "duckdb" => Ok(Box::new(duckdb::TempFile)),
        #[cfg(feature = "sqlite")]
        "sqlite" => Ok(Box::new(sqlite::TempFile)),
        other => Err(format!(
            "unknown or not compiled-in backend `{other}`; available: {}",
            available().join(", ")
        )),
    }
}

#[cfg(feature = "duckdb")]
mod duckdb {
    use std::sync::Arc;

    use async_trait::async_trait;
    use metaxy_core::{Backend, Result};

    use crate::factory::BackendFactory;

    /// A DuckDB file in a fresh temporary directory per case.
    pub struct TempFile;

    #[async_trait]
    impl BackendFactory for TempFile {
        fn name(&self) -> String {
            "duckdb".into()
        }

        async fn fresh(&self) -> Result<Arc<dyn Backend>> {
            Ok(Arc::new(metaxy_duckdb::DuckDbBackend::temporary()?))
        }
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use std::sync::Arc;

    use async_trait::async_trait;
    use metaxy_core::{Backend, Result};

    use crate::factory::BackendFactory;

    /// A SQLite file in a fresh temporary directory per case.
    pub struct TempFile;

    #[async_trait]
    impl BackendFactory for TempFile {
        fn name(&self) -> String {
            "sqlite".into()
        }

        async fn fresh(&self) -> Result<Arc<dyn Backend>> {
            Ok(Arc::new(metaxy_sqlite::SqliteBackend::temporary()?))
        }
    }
}

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
    if cfg!(feature = "postgres") {
        names.push("postgres");
    }
    if cfg!(feature = "delta") {
        names.push("delta");
    }
    if cfg!(feature = "lancedb") {
        names.push("lancedb");
    }
    names
}

/// Cleans up what a factory created (PostgreSQL drops its test schemas).
pub async fn finish(factory: &dyn BackendFactory) -> Result<(), String> {
    factory.finish().await.map_err(|e| e.to_string())
}

/// A factory for the named backend.
pub fn factory(name: &str) -> Result<Box<dyn BackendFactory>, String> {
    match name {
        "memory" => Ok(Box::new(MemoryFactory)),
        #[cfg(feature = "duckdb")]
        "duckdb" => Ok(Box::new(duckdb::TempFile)),
        #[cfg(feature = "sqlite")]
        "sqlite" => Ok(Box::new(sqlite::TempFile)),
        #[cfg(feature = "postgres")]
        "postgres" => Ok(Box::new(postgres::SchemaPerCase::from_env()?)),
        #[cfg(feature = "delta")]
        "delta" => Ok(Box::new(delta::TempDir)),
        #[cfg(feature = "lancedb")]
        "lancedb" => Ok(Box::new(lancedb::TempDir)),
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

#[cfg(feature = "postgres")]
mod postgres {
    use std::sync::Arc;

    use async_trait::async_trait;
    use metaxy_core::{Backend, Result};
    use metaxy_postgres::TemporarySchemas;

    use crate::factory::BackendFactory;

    /// The variable naming the server.
    pub const URL_VAR: &str = "METAXY_TEST_POSTGRES_URL";

    /// One schema per case on the server of `METAXY_TEST_POSTGRES_URL`, dropped at the end.
    pub struct SchemaPerCase(TemporarySchemas);

    impl SchemaPerCase {
        pub fn from_env() -> std::result::Result<Self, String> {
            let url = std::env::var(URL_VAR)
                .ok()
                .filter(|u| !u.is_empty())
                .ok_or_else(|| format!("the postgres backend needs {URL_VAR} (e.g. postgres://postgres@127.0.0.1:5432/test)"))?;
            Ok(SchemaPerCase(TemporarySchemas::new(url)))
        }
    }

    #[async_trait]
    impl BackendFactory for SchemaPerCase {
        fn name(&self) -> String {
            "postgres".into()
        }

        async fn fresh(&self) -> Result<Arc<dyn Backend>> {
            Ok(Arc::new(self.0.backend().await?))
        }

        async fn finish(&self) -> Result<()> {
            self.0.drop_all().await
        }
    }
}

#[cfg(feature = "delta")]
mod delta {
    use std::sync::Arc;

    use async_trait::async_trait;
    use metaxy_core::{Backend, Result};

    use crate::factory::BackendFactory;

    /// A Delta root in a fresh temporary directory per case.
    pub struct TempDir;

    #[async_trait]
    impl BackendFactory for TempDir {
        fn name(&self) -> String {
            "delta".into()
        }

        async fn fresh(&self) -> Result<Arc<dyn Backend>> {
            Ok(Arc::new(metaxy_delta::DeltaBackend::temporary()?))
        }
    }
}

#[cfg(feature = "lancedb")]
mod lancedb {
    use std::sync::Arc;

    use async_trait::async_trait;
    use metaxy_core::{Backend, Result};

    use crate::factory::BackendFactory;

    /// A LanceDB database in a fresh temporary directory per case.
    pub struct TempDir;

    #[async_trait]
    impl BackendFactory for TempDir {
        fn name(&self) -> String {
            "lancedb".into()
        }

        async fn fresh(&self) -> Result<Arc<dyn Backend>> {
            Ok(Arc::new(metaxy_lancedb::LanceDbBackend::temporary()?))
        }
    }
}

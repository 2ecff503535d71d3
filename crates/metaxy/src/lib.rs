//! # metaxy
//!
//! The metadata layer for multimodal data and ML pipelines: tells a pipeline exactly which
//! samples must be (re)computed, field by field. This facade re-exports
//! [`metaxy-core`](metaxy_core) and every storage backend compiled in (cargo features
//! `duckdb`, `sqlite`, `postgres`, `delta`, `lancedb`; all on by default), and opens stores by name from
//! `metaxy.toml`.
//!
//! ```no_run
//! # async fn run() -> metaxy::Result<()> {
//! let project = metaxy::Project::load(None)?;          // metaxy.toml + its definitions
//! let store = project.open_store(None)?;                 // the default store
//! let _open = store.open(metaxy::AccessMode::Write).await?;
//! let increment = store.resolve_update("example/crop", metaxy::ResolveOptions::new()).await?;
//! # Ok(()) }
//! ```

pub mod definitions;

use std::path::Path;

pub use metaxy_core::*;
#[cfg(feature = "delta")]
pub use metaxy_delta as delta;
#[cfg(feature = "duckdb")]
pub use metaxy_duckdb as duckdb;
#[cfg(feature = "lancedb")]
pub use metaxy_lancedb as lancedb;
#[cfg(feature = "postgres")]
pub use metaxy_postgres as postgres;
#[cfg(feature = "sqlite")]
pub use metaxy_sqlite as sqlite;

use metaxy_core::config::{BackendRegistry, MetaxyConfig};

/// A registry with every backend compiled into this build.
pub fn registry() -> BackendRegistry {
    #[allow(unused_mut)]
    let mut r = BackendRegistry::new();
    #[cfg(feature = "duckdb")]
    metaxy_duckdb::register(&mut r);
    #[cfg(feature = "sqlite")]
    metaxy_sqlite::register(&mut r);
    #[cfg(feature = "postgres")]
    metaxy_postgres::register(&mut r);
    #[cfg(feature = "delta")]
    metaxy_delta::register(&mut r);
    #[cfg(feature = "lancedb")]
    metaxy_lancedb::register(&mut r);
    r
}

/// A project: its configuration, its feature definitions and the backends to open stores.
#[derive(Debug)]
pub struct Project {
    /// The loaded `metaxy.toml` (defaults when there is none).
    pub config: MetaxyConfig,
    /// The feature graph of the definitions files (empty when none are configured).
    pub graph: FeatureGraph,
    /// The backends stores can be opened with.
    pub registry: BackendRegistry,
}

impl Project {
    /// Loads `metaxy.toml` (explicit path, or discovered from the working directory) and the
    /// feature definitions it names.
    pub fn load(config: Option<&Path>) -> Result<Project> {
        Self::from_config(MetaxyConfig::load(config)?)
    }

    /// A project from an already loaded configuration.
    pub fn from_config(config: MetaxyConfig) -> Result<Project> {
        let specs = definitions::load_files(&config.definitions)?;
        let mut graph = FeatureGraph::with_truncation(specs, Some(config.hash_truncation_length))?;
        if let Some(p) = &config.project {
            graph = graph.with_project(p);
        }
        Ok(Project {
            config,
            graph,
            registry: registry(),
        })
    }

    /// Opens (constructs) a store by name, or the default store, for this project's graph.
    pub fn open_store(&self, name: Option<&str>) -> Result<MetadataStore> {
        self.config
            .open_store(name, self.graph.clone(), &self.registry)
    }

    /// Opens a store for another graph (e.g. one loaded from a pushed version).
    pub fn open_store_with(
        &self,
        name: Option<&str>,
        graph: FeatureGraph,
    ) -> Result<MetadataStore> {
        self.config.open_store(name, graph, &self.registry)
    }
}

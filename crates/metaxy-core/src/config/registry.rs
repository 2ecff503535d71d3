//! The backend registry: backend crates register a constructor for their `type`, so the core
//! opens any configured store without depending on any backend.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use toml::Table;

use super::{MetaxyConfig, StoreEntry};
use crate::backend::{Backend, MemoryBackend};
use crate::error::{Error, Result};
use crate::graph::FeatureGraph;
use crate::hash::HashAlgorithm;
use crate::store::{MetadataStore, StoreSettings};

/// What a backend constructor gets: the store's backend settings and where it is configured.
#[derive(Debug)]
pub struct BackendContext<'a> {
    /// The store's name in `[stores]`.
    pub store: &'a str,
    /// The backend-specific settings (`[stores.<name>.config]` minus the common keys).
    pub config: &'a Table,
    /// The directory relative paths are resolved against.
    pub root: &'a Path,
    /// The config file, for messages.
    pub file: Option<&'a Path>,
}

impl BackendContext<'_> {
    /// Deserialises the backend settings, reporting problems with the file and key.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T> {
        // the path of the offending key, so a message names `stores.dev.config.pushdown`
        // rather than the whole table
        serde_path_to_error::deserialize(toml::Value::Table(self.config.clone())).map_err(|e| {
            let key = e.path().to_string();
            let location = if key.is_empty() || key == "." {
                format!("stores.{}.config", self.store)
            } else {
                format!("stores.{}.config.{key}", self.store)
            };
            Error::config(
                self.file.map(|f| f.display().to_string()).as_deref(),
                Some(&location),
                e.into_inner().message().trim().to_string(),
            )
        })
    }

    /// Resolves a path from the config against the config file's directory.
    pub fn path(&self, p: &str) -> PathBuf {
        let path = Path::new(p);
        if path.is_absolute() || p.contains("://") {
            path.to_path_buf()
        } else {
            self.root.join(path)
        }
    }

    /// An error about this store's settings.
    pub fn error(&self, key: &str, message: impl Into<String>) -> Error {
        Error::config(
            self.file.map(|f| f.display().to_string()).as_deref(),
            Some(&format!("stores.{}.config.{key}", self.store)),
            message,
        )
    }
}

/// Builds a backend from its settings.
pub type BackendConstructor = fn(&BackendContext<'_>) -> Result<Arc<dyn Backend>>;

/// Maps store `type` names (short names and Metaxy class paths) to backend constructors.
#[derive(Clone, Debug)]
pub struct BackendRegistry {
    entries: Vec<(Vec<String>, BackendConstructor)>,
}

fn memory(_: &BackendContext<'_>) -> Result<Arc<dyn Backend>> {
    Ok(Arc::new(MemoryBackend::new()))
}

impl Default for BackendRegistry {
    fn default() -> Self {
        let mut r = BackendRegistry {
            entries: Vec::new(),
        };
        r.register(
            &[
                "memory",
                "metaxy.metadata_store.memory.InMemoryMetadataStore",
            ],
            memory,
        );
        r
    }
}

impl BackendRegistry {
    /// A registry that knows the in-memory backend.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a constructor under one or more type names (the first is the short name).
    pub fn register(&mut self, names: &[&str], constructor: BackendConstructor) {
        self.entries
            .push((names.iter().map(|n| n.to_string()).collect(), constructor));
    }

    /// The short names of every registered backend.
    pub fn kinds(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter_map(|(n, _)| n.first().cloned())
            .collect()
    }

    /// Builds the backend of `entry`.
    pub fn construct(&self, entry: &StoreEntry, config: &MetaxyConfig) -> Result<Arc<dyn Backend>> {
        let ctor = self
            .entries
            .iter()
            .find(|(names, _)| names.iter().any(|n| n == &entry.kind))
            .map(|(_, c)| *c)
            .ok_or_else(|| {
                Error::config(
                    config
                        .file
                        .as_ref()
                        .map(|f| f.display().to_string())
                        .as_deref(),
                    Some(&format!("stores.{}.type", entry.name)),
                    format!(
                        "unknown store type `{}`; available in this build: {}",
                        entry.kind,
                        self.kinds().join(", ")
                    ),
                )
            })?;
        ctor(&BackendContext {
            store: &entry.name,
            config: &entry.backend_config,
            root: &config.root,
            file: config.file.as_deref(),
        })
    }
}

impl MetaxyConfig {
    /// Opens (constructs, does not connect) the named store, or the default store, with its
    /// fallback chain, for the features of `graph`.
    pub fn open_store(
        &self,
        name: Option<&str>,
        graph: FeatureGraph,
        registry: &BackendRegistry,
    ) -> Result<MetadataStore> {
        if graph.truncation() != Some(self.hash_truncation_length) {
            return Err(Error::config(
                self.file
                    .as_ref()
                    .map(|f| f.display().to_string())
                    .as_deref(),
                Some("hash_truncation_length"),
                format!(
                    "the feature graph was built with truncation {:?} but the config says {}; build \
                     it with FeatureGraph::with_truncation(.., Some({}))",
                    graph.truncation(),
                    self.hash_truncation_length,
                    self.hash_truncation_length
                ),
            ));
        }
        self.open_entry(&self.store_entry(name)?, &graph, registry, &mut Vec::new())
    }

    fn open_entry(
        &self,
        entry: &StoreEntry,
        graph: &FeatureGraph,
        registry: &BackendRegistry,
        path: &mut Vec<String>,
    ) -> Result<MetadataStore> {
        path.push(entry.name.clone());
        let backend = registry.construct(entry, self)?;
        let settings = StoreSettings {
            name: Some(entry.name.clone()),
            hash_algorithm: entry.hash_algorithm.unwrap_or(HashAlgorithm::Xxhash32),
            materialization_id: entry.materialization_id.clone(),
            auto_create_tables: entry
                .auto_create_tables
                .or(self.auto_create_tables)
                .unwrap_or(true),
        };
        let store = MetadataStore::with_settings(backend, graph.clone(), settings);
        let mut fallbacks = Vec::new();
        for fb in &entry.fallback_stores {
            if path.contains(fb) {
                continue; // cycles are rejected when the config loads
            }
            let fb_entry = self.store_entry(Some(fb))?;
            fallbacks.push(self.open_entry(&fb_entry, graph, registry, path)?);
        }
        path.pop();
        if fallbacks.is_empty() {
            return Ok(store);
        }
        store.with_fallbacks(fallbacks).map_err(|e| match e {
            Error::InvalidConfig { message, .. } => Error::config(
                self.file
                    .as_ref()
                    .map(|f| f.display().to_string())
                    .as_deref(),
                Some(&format!("stores.{}.config.fallback_stores", entry.name)),
                message,
            ),
            other => other,
        })
    }
}

//! [`MetadataStore`]: Metaxy's store semantics over any [`Backend`].
//!
//! The store adds everything versioning-specific on top of the backend's storage verbs:
//! system columns on write, "latest row per sample wins" on read, soft deletes, feature
//! version filters, and `resolve_update`. It is opened in read or write mode (re-entrant,
//! like Metaxy's context manager): [`MetadataStore::open`] returns a guard, and the store
//! stays open while any guard lives.

mod clock;
mod dedup;
mod delete;
mod options;
mod read;
mod rebase;
mod resolve;
mod system;
mod write;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

pub use dedup::latest_rows;
pub use options::{DeleteOptions, ReadOptions, ResolveOptions, WriteOptions};
pub use rebase::{CopyOptions, CopyResult};
pub use system::{
    FEATURE_VERSIONS_KEY, FEATURE_VERSIONS_TABLE, PushResult, PushedFeature, PushedVersion,
    feature_versions_key, feature_versions_schema,
};

use crate::backend::{AccessMode, Backend};
use crate::engine::HashSettings;
use crate::error::{Error, Result};
use crate::graph::FeatureGraph;
use crate::hash::HashAlgorithm;
use crate::key::{FeatureKey, IntoFeatureKey};

/// Store-level settings (reference 4.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreSettings {
    /// A display name (`[name] ...` in messages).
    pub name: Option<String>,
    /// The sample-level hash algorithm. Default: xxhash32, Metaxy's default for every store.
    pub hash_algorithm: HashAlgorithm,
    /// The run id stamped on every write unless a write passes its own.
    pub materialization_id: Option<String>,
    /// Create a feature's table on its first write (default true; with false, writing a
    /// feature whose table does not exist fails).
    pub auto_create_tables: bool,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            name: None,
            hash_algorithm: HashAlgorithm::Xxhash32,
            materialization_id: None,
            auto_create_tables: true,
        }
    }
}

/// The metadata store: Metaxy's semantics over one backend (and optional fallback stores).
///
/// Cheap to clone; clones share the backend, the graph and the open state.
#[derive(Clone)]
pub struct MetadataStore {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Arc<dyn Backend>,
    graph: RwLock<Arc<FeatureGraph>>,
    settings: StoreSettings,
    /// Live guards (id, mode), in open order; the last one is the effective mode.
    modes: Mutex<Vec<(u64, AccessMode)>>,
    /// The mode the backend is currently opened with.
    backend_mode: Mutex<Option<AccessMode>>,
    /// Serialises backend open/upgrade.
    open_lock: tokio::sync::Mutex<()>,
    next_guard: AtomicU64,
    fallbacks: RwLock<Vec<MetadataStore>>,
}

impl std::fmt::Debug for MetadataStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

/// Keeps a store open; dropping the last guard closes the backend.
#[must_use = "the store closes again when the guard is dropped"]
pub struct StoreGuard {
    store: MetadataStore,
    id: u64,
}

impl Drop for StoreGuard {
    fn drop(&mut self) {
        let inner = &self.store.inner;
        let mut modes = lock(&inner.modes);
        modes.retain(|(id, _)| *id != self.id);
        if modes.is_empty() {
            let mut opened = lock(&inner.backend_mode);
            if opened.take().is_some() {
                inner.backend.close();
            }
        }
    }
}

/// Locks a mutex, recovering from poisoning (the guarded data is always consistent).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl MetadataStore {
    /// A store over `backend` for the features of `graph`, with default settings.
    pub fn new(backend: Arc<dyn Backend>, graph: FeatureGraph) -> Self {
        Self::with_settings(backend, graph, StoreSettings::default())
    }

    /// A store with explicit settings.
    pub fn with_settings(
        backend: Arc<dyn Backend>,
        graph: FeatureGraph,
        settings: StoreSettings,
    ) -> Self {
        MetadataStore {
            inner: Arc::new(Inner {
                backend,
                graph: RwLock::new(Arc::new(graph)),
                settings,
                modes: Mutex::new(Vec::new()),
                backend_mode: Mutex::new(None),
                open_lock: tokio::sync::Mutex::new(()),
                next_guard: AtomicU64::new(1),
                fallbacks: RwLock::new(Vec::new()),
            }),
        }
    }

    /// Adds fallback stores, read in order when this store lacks a feature (never written).
    /// Every fallback must use the same hash algorithm.
    pub fn with_fallbacks(self, fallbacks: Vec<MetadataStore>) -> Result<Self> {
        for fb in &fallbacks {
            if fb.hash_algorithm() != self.hash_algorithm() {
                return Err(Error::config(
                    None,
                    None,
                    format!(
                        "fallback store {} uses hash algorithm {} but {} uses {}; every store of a \
                         fallback chain must use the same hash_algorithm",
                        fb.display(),
                        fb.hash_algorithm(),
                        self.display(),
                        self.hash_algorithm()
                    ),
                ));
            }
        }
        *self
            .inner
            .fallbacks
            .write()
            .unwrap_or_else(|p| p.into_inner()) = fallbacks;
        Ok(self)
    }

    /// The fallback stores, in order.
    pub fn fallbacks(&self) -> Vec<MetadataStore> {
        self.inner
            .fallbacks
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.inner.backend
    }

    /// The settings.
    pub fn settings(&self) -> &StoreSettings {
        &self.inner.settings
    }

    /// The current feature graph.
    pub fn graph(&self) -> Arc<FeatureGraph> {
        self.inner
            .graph
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the feature graph (e.g. after a code-version bump); stored data is kept.
    pub fn set_graph(&self, graph: FeatureGraph) {
        *self.inner.graph.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(graph);
    }

    /// The sample-level hash algorithm.
    pub fn hash_algorithm(&self) -> HashAlgorithm {
        self.inner.settings.hash_algorithm
    }

    /// Algorithm and truncation used for sample-level hashes.
    pub fn hash_settings(&self) -> HashSettings {
        HashSettings {
            algorithm: self.inner.settings.hash_algorithm,
            truncation: self.graph().truncation(),
        }
    }

    /// `[name] <backend display>` or the backend display.
    pub fn display(&self) -> String {
        match &self.inner.settings.name {
            Some(n) => format!("[{n}] {}", self.inner.backend.display()),
            None => self.inner.backend.display(),
        }
    }

    /// Opens the store (re-entrant). The backend is opened on the first open and upgraded
    /// when a write open nests inside a read open; it closes when the last guard drops.
    pub async fn open(&self, mode: AccessMode) -> Result<StoreGuard> {
        let _serial = self.inner.open_lock.lock().await;
        let current = *lock(&self.inner.backend_mode);
        let needs_open = matches!(
            (current, mode),
            (None, _) | (Some(AccessMode::Read), AccessMode::Write)
        );
        if needs_open {
            self.inner.backend.open(mode).await?;
            *lock(&self.inner.backend_mode) = Some(mode);
        }
        let id = self.inner.next_guard.fetch_add(1, Ordering::Relaxed);
        lock(&self.inner.modes).push((id, mode));
        Ok(StoreGuard {
            store: self.clone(),
            id,
        })
    }

    /// The effective access mode, or `None` when closed.
    pub fn mode(&self) -> Option<AccessMode> {
        lock(&self.inner.modes).last().map(|(_, m)| *m)
    }

    fn require_open(&self) -> Result<AccessMode> {
        self.mode().ok_or_else(|| Error::StoreNotOpen {
            store: self.display(),
        })
    }

    fn require_write(&self) -> Result<()> {
        match self.require_open()? {
            AccessMode::Write => Ok(()),
            AccessMode::Read => Err(Error::ReadOnly {
                store: self.display(),
            }),
        }
    }

    /// Whether this store has a table for the feature (`check_fallback`: or a fallback has).
    pub async fn has_feature(
        &self,
        key: impl IntoFeatureKey,
        check_fallback: bool,
    ) -> Result<bool> {
        self.require_open()?;
        let key = key.into_feature_key()?;
        self.has_feature_in_chain(key, check_fallback).await
    }

    fn has_feature_in_chain(
        &self,
        key: FeatureKey,
        check_fallback: bool,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool>> + Send + '_>> {
        Box::pin(async move {
            if self.inner.backend.table_exists(&key).await? {
                return Ok(true);
            }
            if check_fallback {
                for fb in self.fallbacks() {
                    let _g = fb.open(AccessMode::Read).await?;
                    if fb.has_feature_in_chain(key.clone(), true).await? {
                        return Ok(true);
                    }
                }
            }
            Ok(false)
        })
    }

    /// The graph's features that have a table in this store, in topological order.
    pub async fn list_features(&self) -> Result<Vec<FeatureKey>> {
        self.require_open()?;
        let tables = self.inner.backend.list_tables().await?;
        let graph = self.graph();
        Ok(graph
            .topological_order()
            .iter()
            .filter(|k| tables.contains(&k.table_name()))
            .cloned()
            .collect())
    }
}

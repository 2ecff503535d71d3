//! The DuckDB store's configuration, as it appears under `[stores.<name>.config]`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// Where the DuckDB database lives.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DuckDbConfig {
    /// A file path, or `:memory:` for a private in-process database.
    pub database: String,
    /// DuckDB settings applied on open (e.g. `threads = "4"`, `memory_limit = "4GB"`); also
    /// accepted under Metaxy's name `config`.
    #[serde(default, alias = "config")]
    pub settings: BTreeMap<String, String>,
}

impl DuckDbConfig {
    /// A database file (created on first write).
    pub fn file(path: impl Into<PathBuf>) -> Self {
        DuckDbConfig {
            database: path.into().to_string_lossy().into_owned(),
            settings: BTreeMap::new(),
        }
    }

    /// A private in-memory database (lives as long as the backend value).
    pub fn in_memory() -> Self {
        DuckDbConfig {
            database: ":memory:".to_string(),
            settings: BTreeMap::new(),
        }
    }

    /// True for `:memory:`.
    pub fn is_memory(&self) -> bool {
        self.database == ":memory:" || self.database.is_empty()
    }
}

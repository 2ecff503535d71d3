//! The SQLite store's configuration, as it appears under `[stores.<name>.config]`.

use serde::Deserialize;

/// Where the SQLite database lives and how it waits for other writers.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqliteConfig {
    /// A file path, or `:memory:` for a private in-process database.
    pub database: String,
    /// How long a write waits for another process's write lock before failing, in
    /// milliseconds (SQLite's busy timeout). Default: 30 000.
    #[serde(default = "default_busy_timeout")]
    pub busy_timeout_ms: u64,
}

fn default_busy_timeout() -> u64 {
    30_000
}

impl SqliteConfig {
    /// A database file (created on first write).
    pub fn file(path: impl AsRef<std::path::Path>) -> Self {
        SqliteConfig {
            database: path.as_ref().to_string_lossy().into_owned(),
            busy_timeout_ms: default_busy_timeout(),
        }
    }

    /// A private in-memory database.
    pub fn in_memory() -> Self {
        SqliteConfig {
            database: ":memory:".into(),
            busy_timeout_ms: default_busy_timeout(),
        }
    }

    /// True for `:memory:`.
    pub fn is_memory(&self) -> bool {
        self.database == ":memory:" || self.database.is_empty()
    }
}

//! `metaxy.toml`: the project's configuration (reference section 6.3).
//!
//! ```toml
//! project = "video_pipeline"
//! store = "dev"                      # default store name (METAXY_STORE)
//! hash_truncation_length = 8
//! definitions = ["features.json"]    # metaxy-rs: files of feature specs
//!
//! [stores.dev]
//! type = "duckdb"                    # or the Python class path of the same store
//! [stores.dev.config]
//! database = ".metaxy/dev.duckdb"
//! fallback_stores = ["prod"]
//!
//! [stores.prod]
//! type = "delta"
//! [stores.prod.config]
//! root_path = "s3://bucket/metaxy"
//! ```
//!
//! Files are found in the working directory or its parents (or named explicitly / by
//! `METAXY_CONFIG`); `extend` inherits from another file; `METAXY_*` environment variables
//! override any key (nested with `__`); strings may use `${VAR:-default}`. Every error names
//! the file and the key.

mod load;
mod registry;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use load::{CONFIG_FILE, apply_env, discover, expand_templates, read_with_extends};
pub use registry::{BackendConstructor, BackendContext, BackendRegistry};
use toml::{Table, Value};

use crate::error::{Error, Result};
use crate::hash::{DEFAULT_TRUNCATION, HashAlgorithm, MIN_TRUNCATION};

/// Keys of a store's `config` table that the store itself (not the backend) understands.
pub const COMMON_STORE_KEYS: [&str; 4] = [
    "hash_algorithm",
    "fallback_stores",
    "materialization_id",
    "auto_create_tables",
];

/// The store used when the config defines none: a DuckDB file under the project root.
pub const DEFAULT_DUCKDB_PATH: &str = ".metaxy/metadata.duckdb";

/// One entry of `[stores]`.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreEntry {
    /// The entry's name (the key under `[stores]`).
    pub name: String,
    /// The backend type: a short name (`duckdb`) or a Metaxy class path.
    pub kind: String,
    /// The store's hash algorithm, if configured.
    pub hash_algorithm: Option<HashAlgorithm>,
    /// Names of the stores to read from when this one lacks a feature.
    pub fallback_stores: Vec<String>,
    /// Default run id of writes.
    pub materialization_id: Option<String>,
    /// Create tables on first write (falls back to the global setting).
    pub auto_create_tables: Option<bool>,
    /// Backend-specific settings (everything else under `[stores.<name>.config]`).
    pub backend_config: Table,
}

/// The loaded configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct MetaxyConfig {
    /// The file it was loaded from (`None`: defaults only).
    pub file: Option<PathBuf>,
    /// Directory relative paths are resolved against (the file's directory, else the working
    /// directory).
    pub root: PathBuf,
    /// The current project.
    pub project: Option<String>,
    /// Name of the default store.
    pub store: String,
    /// Every configured store, by name.
    pub stores: BTreeMap<String, StoreEntry>,
    /// Truncation of every version string (>= 8).
    pub hash_truncation_length: usize,
    /// Global default of `auto_create_tables`.
    pub auto_create_tables: Option<bool>,
    /// Files of feature specs (metaxy-rs addition), resolved against `root`.
    pub definitions: Vec<PathBuf>,
}

const TOP_LEVEL_KEYS: [&str; 15] = [
    "project",
    "store",
    "stores",
    "hash_truncation_length",
    "auto_create_tables",
    "definitions",
    // accepted for compatibility with Python Metaxy configs; they drive Python-only features
    "entrypoints",
    "enable_map_datatype",
    "locked",
    "sync",
    "extra_features",
    "metaxy_lock_path",
    "theme",
    "ext",
    "extend",
];

impl MetaxyConfig {
    /// Loads the config the way the CLI does: `explicit` if given, else discovery from the
    /// working directory; environment overrides from the process environment. Without a file,
    /// the defaults (with the default DuckDB store) are returned.
    pub fn load(explicit: Option<&Path>) -> Result<Self> {
        let cwd = std::env::current_dir()
            .map_err(|e| Error::config(None, None, format!("no working directory: {e}")))?;
        let vars: Vec<(String, String)> = std::env::vars().collect();
        Self::load_with(explicit, &cwd, &vars)
    }

    /// [`load`](Self::load) with an explicit working directory and environment (for tests).
    pub fn load_with(
        explicit: Option<&Path>,
        cwd: &Path,
        vars: &[(String, String)],
    ) -> Result<Self> {
        let env = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let file = match explicit {
            Some(p) => {
                let p = if p.is_absolute() {
                    p.to_path_buf()
                } else {
                    cwd.join(p)
                };
                if !p.is_file() {
                    return Err(Error::config(
                        Some(&p.display().to_string()),
                        None,
                        "the config file does not exist",
                    ));
                }
                Some(p)
            }
            None => discover(cwd, &env),
        };
        let mut table = match &file {
            Some(f) => read_with_extends(f)?,
            None => Table::new(),
        };
        apply_env(&mut table, vars);
        let mut value = Value::Table(table);
        expand_templates(&mut value, &env);
        let table = match value {
            Value::Table(t) => t,
            _ => Table::new(),
        };
        let root = file
            .as_ref()
            .and_then(|f| f.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| cwd.to_path_buf());
        Self::from_table(table, file, root)
    }

    /// Parses a config from TOML text (no discovery, no environment).
    pub fn from_toml_str(text: &str, root: &Path) -> Result<Self> {
        let table: Table = text.parse().map_err(|e: toml::de::Error| {
            Error::config(
                None,
                None,
                format!("not valid TOML: {}", e.message().trim()),
            )
        })?;
        Self::from_table(table, None, root.to_path_buf())
    }

    fn from_table(mut table: Table, file: Option<PathBuf>, root: PathBuf) -> Result<Self> {
        let fname = file.as_ref().map(|f| f.display().to_string());
        let fname = fname.as_deref();
        let err = |key: &str, msg: String| Error::config(fname, Some(key), msg);
        for k in table.keys() {
            if !TOP_LEVEL_KEYS.contains(&k.as_str()) {
                return Err(err(
                    k,
                    format!(
                        "unknown setting; known settings are {}",
                        TOP_LEVEL_KEYS[..6].join(", ")
                    ),
                ));
            }
        }
        let project = match table.remove("project") {
            None => None,
            Some(Value::String(p)) if p.is_empty() => None,
            Some(Value::String(p)) => {
                let valid = p
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                    && !p.contains("__");
                if !valid {
                    return Err(err(
                        "project",
                        format!(
                            "{p:?} is not a valid project name: use letters, digits, `_` and `-` (no `__`)"
                        ),
                    ));
                }
                Some(p)
            }
            Some(other) => {
                return Err(err(
                    "project",
                    format!("expected a string, got {}", other.type_str()),
                ));
            }
        };
        let store = match table.remove("store") {
            None => "dev".to_string(),
            Some(Value::String(s)) => s,
            Some(other) => {
                return Err(err(
                    "store",
                    format!("expected a store name, got {}", other.type_str()),
                ));
            }
        };
        let hash_truncation_length = match table.remove("hash_truncation_length") {
            None => DEFAULT_TRUNCATION,
            Some(Value::Integer(n)) if n >= MIN_TRUNCATION as i64 => n as usize,
            Some(v) => {
                return Err(err(
                    "hash_truncation_length",
                    format!("must be an integer of at least {MIN_TRUNCATION}, got {v}"),
                ));
            }
        };
        let auto_create_tables = match table.remove("auto_create_tables") {
            None => None,
            Some(Value::Boolean(b)) => Some(b),
            Some(v) => {
                return Err(err(
                    "auto_create_tables",
                    format!("expected true or false, got {v}"),
                ));
            }
        };
        let definitions = match table.remove("definitions") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(root.join(s)),
                    other => Err(err(
                        "definitions",
                        format!("expected file paths, got {other}"),
                    )),
                })
                .collect::<Result<_>>()?,
            Some(Value::String(s)) => vec![root.join(s)],
            Some(v) => {
                return Err(err(
                    "definitions",
                    format!("expected a list of file paths, got {v}"),
                ));
            }
        };
        let mut stores = BTreeMap::new();
        match table.remove("stores") {
            None => {}
            Some(Value::Table(t)) => {
                for (name, entry) in t {
                    let parsed = parse_store(&name, entry, fname)?;
                    stores.insert(name, parsed);
                }
            }
            Some(v) => {
                return Err(err(
                    "stores",
                    format!("expected a table of stores, got {}", v.type_str()),
                ));
            }
        }
        let cfg = MetaxyConfig {
            file,
            root,
            project,
            store,
            stores,
            hash_truncation_length,
            auto_create_tables,
            definitions,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    fn file_name(&self) -> Option<String> {
        self.file.as_ref().map(|f| f.display().to_string())
    }

    fn validate(&self) -> Result<()> {
        let fname = self.file_name();
        if !self.stores.is_empty() && !self.stores.contains_key(&self.store) {
            return Err(Error::config(
                fname.as_deref(),
                Some("store"),
                format!(
                    "the default store `{}` is not defined; defined stores: {}",
                    self.store,
                    self.stores.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        for entry in self.stores.values() {
            for fb in &entry.fallback_stores {
                if !self.stores.contains_key(fb) {
                    return Err(Error::config(
                        fname.as_deref(),
                        Some(&format!("stores.{}.config.fallback_stores", entry.name)),
                        format!(
                            "unknown store `{fb}`; defined stores: {}",
                            self.stores.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
            }
            self.fallback_chain(&entry.name)?;
        }
        Ok(())
    }

    /// The stores a store falls back to, transitively, in reading order (cycles are errors).
    pub fn fallback_chain(&self, name: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut path = vec![name.to_string()];
        self.walk_fallbacks(name, &mut path, &mut out)?;
        Ok(out)
    }

    fn walk_fallbacks(
        &self,
        name: &str,
        path: &mut Vec<String>,
        out: &mut Vec<String>,
    ) -> Result<()> {
        let Some(entry) = self.stores.get(name) else {
            return Ok(());
        };
        for fb in &entry.fallback_stores {
            if path.contains(fb) {
                let mut cycle = path.clone();
                cycle.push(fb.clone());
                return Err(Error::config(
                    self.file_name().as_deref(),
                    Some(&format!("stores.{name}.config.fallback_stores")),
                    format!("fallback stores form a cycle: {}", cycle.join(" -> ")),
                ));
            }
            if !out.contains(fb) {
                out.push(fb.clone());
            }
            path.push(fb.clone());
            self.walk_fallbacks(fb, path, out)?;
            path.pop();
        }
        Ok(())
    }

    /// The entry for a store name (`None`: the default store). With no `[stores]` at all, the
    /// default is a DuckDB file at `.metaxy/metadata.duckdb` under the project root.
    pub fn store_entry(&self, name: Option<&str>) -> Result<StoreEntry> {
        let name = name.unwrap_or(&self.store);
        if self.stores.is_empty() && name == self.store {
            let mut backend_config = Table::new();
            backend_config.insert("database".into(), Value::String(DEFAULT_DUCKDB_PATH.into()));
            return Ok(StoreEntry {
                name: name.to_string(),
                kind: "duckdb".into(),
                hash_algorithm: None,
                fallback_stores: Vec::new(),
                materialization_id: None,
                auto_create_tables: None,
                backend_config,
            });
        }
        self.stores.get(name).cloned().ok_or_else(|| {
            let known: Vec<String> = self.stores.keys().cloned().collect();
            Error::config(
                self.file_name().as_deref(),
                Some("stores"),
                format!(
                    "unknown store `{name}`; defined stores: {}",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            )
        })
    }
}

fn parse_store(name: &str, value: Value, fname: Option<&str>) -> Result<StoreEntry> {
    let key = |k: &str| format!("stores.{name}{k}");
    let Value::Table(mut t) = value else {
        return Err(Error::config(
            fname,
            Some(&key("")),
            "a store must be a table with `type` and `config`",
        ));
    };
    let kind = match t.remove("type") {
        Some(Value::String(s)) if !s.is_empty() => s,
        Some(_) => {
            return Err(Error::config(
                fname,
                Some(&key(".type")),
                "must be a non-empty string, e.g. \"duckdb\"",
            ));
        }
        None => {
            return Err(Error::config(
                fname,
                Some(&key(".type")),
                "missing: every store needs a `type` (memory, duckdb, sqlite, postgres, delta, lancedb)",
            ));
        }
    };
    let mut config = match t.remove("config") {
        None => Table::new(),
        Some(Value::Table(c)) => c,
        Some(_) => {
            return Err(Error::config(
                fname,
                Some(&key(".config")),
                "must be a table",
            ));
        }
    };
    if let Some(extra) = t.keys().next() {
        return Err(Error::config(
            fname,
            Some(&key(&format!(".{extra}"))),
            format!("not allowed here; backend settings go under [stores.{name}.config]"),
        ));
    }
    let hash_algorithm = match config.remove("hash_algorithm") {
        None => None,
        Some(Value::String(s)) => Some(s.parse::<HashAlgorithm>().map_err(|e| {
            Error::config(fname, Some(&key(".config.hash_algorithm")), e.to_string())
        })?),
        Some(_) => {
            return Err(Error::config(
                fname,
                Some(&key(".config.hash_algorithm")),
                "must be a string",
            ));
        }
    };
    let fallback_stores = match config.remove("fallback_stores") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(Error::config(
                    fname,
                    Some(&key(".config.fallback_stores")),
                    "must be a list of store names",
                )),
            })
            .collect::<Result<_>>()?,
        Some(_) => {
            return Err(Error::config(
                fname,
                Some(&key(".config.fallback_stores")),
                "must be a list of store names",
            ));
        }
    };
    let materialization_id = match config.remove("materialization_id") {
        None => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            return Err(Error::config(
                fname,
                Some(&key(".config.materialization_id")),
                "must be a string",
            ));
        }
    };
    let auto_create_tables = match config.remove("auto_create_tables") {
        None => None,
        Some(Value::Boolean(b)) => Some(b),
        Some(_) => {
            return Err(Error::config(
                fname,
                Some(&key(".config.auto_create_tables")),
                "must be true or false",
            ));
        }
    };
    // Python-only options that have no meaning here are dropped rather than rejected.
    for ignored in ["versioning_engine", "enable_map_datatype"] {
        config.remove(ignored);
    }
    Ok(StoreEntry {
        name: name.to_string(),
        kind,
        hash_algorithm,
        fallback_stores,
        materialization_id,
        auto_create_tables,
        backend_config: config,
    })
}

#[cfg(test)]
mod tests;

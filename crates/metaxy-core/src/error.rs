//! The one error type of metaxy-core.
//!
//! Every variant is something a caller can match on, and every message says what went wrong
//! *and* what to do about it. Backend crates wrap their driver errors in [`Error::Backend`].

use std::fmt;

/// A boxed error from a storage driver (DuckDB, sqlx, delta-rs, ...).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result alias used throughout metaxy.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in metaxy-core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A feature or field key does not follow the key rules.
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The offending key as given.
        key: String,
        /// Which rule it breaks.
        reason: String,
    },

    /// A feature spec is malformed (bad JSON, bad field, bad dependency options).
    #[error("invalid feature spec{}: {message}", in_feature(.feature))]
    InvalidSpec {
        /// The feature the spec belongs to, when known.
        feature: Option<String>,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// Two features of one graph share a key.
    #[error("feature `{key}` is defined twice; feature keys must be unique within a graph")]
    DuplicateFeature {
        /// The duplicated key.
        key: String,
    },

    /// A feature depends on a feature that is not in the graph.
    #[error(
        "feature `{feature}` depends on `{dependency}`, which is not in the graph; add its \
         definition or remove the dependency"
    )]
    MissingDependency {
        /// The dependent feature.
        feature: String,
        /// The missing upstream feature.
        dependency: String,
    },

    /// The dependency graph has a cycle.
    #[error("feature graph has a cycle: {}; remove one of these dependencies", .cycle.join(" -> "))]
    CyclicGraph {
        /// The features on the cycle, first repeated at the end.
        cycle: Vec<String>,
    },

    /// A field's dependencies cannot be resolved.
    #[error("field `{field}` of feature `{feature}`: {message}")]
    FieldMapping {
        /// The feature owning the field.
        feature: String,
        /// The field whose dependencies fail to resolve.
        field: String,
        /// Why, and what to change.
        message: String,
    },

    /// Two things map to the same storage name (table or struct key).
    #[error("name collision: {message}")]
    NameCollision {
        /// Which names collide and how to avoid it.
        message: String,
    },

    /// A user feature uses the reserved `metaxy-system` namespace.
    #[error(
        "feature key `{key}` uses the reserved namespace `metaxy-system`; choose another first \
         key part"
    )]
    ReservedKey {
        /// The offending key.
        key: String,
    },

    /// The feature is unknown to the graph or has no table in the store (or its fallbacks).
    #[error("feature `{key}` not found {location}")]
    FeatureNotFound {
        /// The key that was asked for.
        key: String,
        /// Where it was looked for (e.g. "in the feature graph", "in store memory").
        location: String,
    },

    /// A field key is unknown to a feature.
    #[error("field `{field}` not found in feature `{feature}`")]
    FieldNotFound {
        /// The feature.
        feature: String,
        /// The field that was asked for.
        field: String,
    },

    /// A frame handed to the store does not have the shape metaxy needs.
    #[error("metadata schema error for feature `{feature}`: {message}")]
    Schema {
        /// The feature being written or resolved.
        feature: String,
        /// What is missing or wrong, and how to fix it.
        message: String,
    },

    /// An operation was attempted on a store that is not open.
    #[error(
        "store {store} must be opened before use; call `store.open(AccessMode::Read)` (or Write) first"
    )]
    StoreNotOpen {
        /// The store's display string.
        store: String,
    },

    /// A write operation was attempted on a store opened for reading.
    #[error(
        "store {store} is open in read mode; write operations require write mode \
         (`store.open(AccessMode::Write)`)"
    )]
    ReadOnly {
        /// The store's display string.
        store: String,
    },

    /// The store cannot compute the requested hash algorithm.
    #[error(
        "hash algorithm {algorithm} is not supported by {store}; supported: {}",
        .supported.join(", ")
    )]
    HashAlgorithmNotSupported {
        /// The requested algorithm.
        algorithm: String,
        /// The store's display string.
        store: String,
        /// Algorithms the store does support.
        supported: Vec<String>,
    },

    /// Configuration is malformed or inconsistent.
    #[error("invalid configuration{}{}: {message}", at_file(.file), at_key(.key))]
    InvalidConfig {
        /// The config file, when the problem comes from one.
        file: Option<String>,
        /// The offending key (dotted path), when known.
        key: Option<String>,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// A filter expression could not be parsed.
    #[error("cannot parse filter {filter:?}: {message}")]
    FilterParse {
        /// The filter text.
        filter: String,
        /// What is not understood.
        message: String,
    },

    /// A filter expression could not be evaluated against a frame.
    #[error("cannot evaluate filter `{filter}`: {message}")]
    FilterEval {
        /// The filter, rendered back as SQL.
        filter: String,
        /// Why it failed (unknown column, incompatible types, ...).
        message: String,
    },

    /// An argument combination is not allowed.
    #[error("{0}")]
    InvalidArgument(String),

    /// A system table was used where only feature tables are allowed (or vice versa).
    #[error("`{key}` is a metaxy system table; {operation} is not allowed on it")]
    SystemTable {
        /// The system key.
        key: String,
        /// The refused operation.
        operation: String,
    },

    /// An error from the storage backend.
    #[error("{backend} backend: {source}")]
    Backend {
        /// Which backend (its display string).
        backend: String,
        /// The driver error.
        #[source]
        source: BoxError,
    },

    /// An Arrow kernel failed (type mismatch, overflow, ...).
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
}

impl Error {
    /// Wraps a driver error of the named backend.
    pub fn backend(backend: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Backend {
            backend: backend.into(),
            source: source.into(),
        }
    }

    /// A schema error for `feature`.
    pub fn schema(feature: impl fmt::Display, message: impl Into<String>) -> Self {
        Error::Schema {
            feature: feature.to_string(),
            message: message.into(),
        }
    }

    /// An invalid-spec error for `feature`.
    pub fn spec(feature: Option<&dyn fmt::Display>, message: impl Into<String>) -> Self {
        Error::InvalidSpec {
            feature: feature.map(|f| f.to_string()),
            message: message.into(),
        }
    }

    /// An invalid-config error.
    pub fn config(file: Option<&str>, key: Option<&str>, message: impl Into<String>) -> Self {
        Error::InvalidConfig {
            file: file.map(str::to_string),
            key: key.map(str::to_string),
            message: message.into(),
        }
    }
}

fn in_feature(feature: &Option<String>) -> String {
    feature
        .as_ref()
        .map(|f| format!(" of `{f}`"))
        .unwrap_or_default()
}

fn at_file(file: &Option<String>) -> String {
    file.as_ref()
        .map(|f| format!(" in {f}"))
        .unwrap_or_default()
}

fn at_key(key: &Option<String>) -> String {
    key.as_ref()
        .map(|k| format!(" at `{k}`"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_problem_and_the_fix() {
        let e = Error::CyclicGraph {
            cycle: vec!["a".into(), "b".into(), "a".into()],
        };
        assert_eq!(
            e.to_string(),
            "feature graph has a cycle: a -> b -> a; remove one of these dependencies"
        );
        let e = Error::config(Some("metaxy.toml"), Some("stores.dev.type"), "missing");
        assert_eq!(
            e.to_string(),
            "invalid configuration in metaxy.toml at `stores.dev.type`: missing"
        );
        let e = Error::spec(None, "bad");
        assert_eq!(e.to_string(), "invalid feature spec: bad");
    }
}

//! CLI errors: a stable code, a one-line message, and an exit status scripts can rely on.
//!
//! | exit | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the command ran but its check failed (`--assert-in-sync` found work) |
//! | 2 | bad usage or configuration (unknown flag, malformed config or filter, missing `--yes`) |
//! | 3 | the operation failed (unknown feature, store unreachable, backend error) |

use std::fmt;

/// A failed command.
#[derive(Debug)]
pub struct CliError {
    /// A stable machine-readable code (`FEATURES_NOT_FOUND`, `CONFIG_ERROR`, ...).
    pub code: &'static str,
    /// What went wrong, in one line.
    pub message: String,
    /// The process exit status.
    pub exit: u8,
}

impl CliError {
    /// A usage error (exit 2).
    pub fn usage(code: &'static str, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
            exit: 2,
        }
    }

    /// A failed operation (exit 3).
    pub fn failed(code: &'static str, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
            exit: 3,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<metaxy::Error> for CliError {
    fn from(e: metaxy::Error) -> Self {
        use metaxy::Error as E;
        let message = e.to_string().replace('\n', " ");
        match e {
            E::InvalidConfig { .. } => CliError::usage("CONFIG_ERROR", message),
            E::InvalidKey { .. } => CliError::usage("INVALID_FEATURE_KEY", message),
            E::FilterParse { .. } | E::FilterEval { .. } => {
                CliError::usage("FILTER_ERROR", message)
            }
            E::FeatureNotFound { .. } | E::FieldNotFound { .. } => {
                CliError::failed("FEATURES_NOT_FOUND", message)
            }
            E::InvalidSpec { .. }
            | E::DuplicateFeature { .. }
            | E::MissingDependency { .. }
            | E::CyclicGraph { .. }
            | E::FieldMapping { .. }
            | E::NameCollision { .. }
            | E::ReservedKey { .. } => CliError::usage("DEFINITION_ERROR", message),
            E::Schema { .. } => CliError::failed("SCHEMA_ERROR", message),
            E::Backend { .. } => CliError::failed("STORE_ERROR", message),
            _ => CliError::failed("GENERIC_ERROR", message),
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::failed("IO_ERROR", e.to_string())
    }
}

impl From<arrow_schema::ArrowError> for CliError {
    fn from(e: arrow_schema::ArrowError) -> Self {
        CliError::failed("DATA_ERROR", e.to_string())
    }
}

impl From<parquet::errors::ParquetError> for CliError {
    fn from(e: parquet::errors::ParquetError) -> Self {
        CliError::failed("DATA_ERROR", e.to_string())
    }
}

/// Result of a command.
pub type CliResult<T = ()> = std::result::Result<T, CliError>;

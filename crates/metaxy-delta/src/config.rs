//! The Delta store's configuration, as it appears under `[stores.<name>.config]`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

/// How feature keys map to table directories under the root.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// `<root>/<part1>/<part2>.delta` — one directory level per key part, hyphens kept
    /// (`metaxy-system/feature_versions.delta`). Python Metaxy's default.
    #[default]
    Nested,
    /// `<root>/<table_name>.delta` (`example__video.delta`).
    Flat,
}

/// Where the Delta tables live and how to reach them.
///
/// `storage_options` are handed to delta-rs / `object_store` unchanged (`AWS_ENDPOINT_URL`,
/// `AWS_REGION`, `AWS_ACCESS_KEY_ID`, ...). They may hold credentials, so `Debug` shows only
/// their keys and nothing here ever logs their values.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeltaConfig {
    /// The root: a local directory (`/data/metaxy`, `file:///data/metaxy`,
    /// `local:///data/metaxy`) or an object-store URI (`s3://bucket/prefix`, and `az://` /
    /// `gs://` when built with the `azure` / `gcs` features).
    pub root_path: String,
    /// Options for the object store (credentials, endpoint, region).
    #[serde(default)]
    pub storage_options: BTreeMap<String, String>,
    /// Table layout under the root.
    #[serde(default)]
    pub layout: Layout,
    /// Python Metaxy's write options. metaxy-rs always appends with `schema_mode = "merge"`;
    /// these two values are accepted (so one `metaxy.toml` serves both implementations) and
    /// anything else is rejected rather than silently ignored.
    #[serde(default)]
    pub delta_write_options: BTreeMap<String, toml_value::Value>,
    /// How often a commit that lost a race with another writer is retried before the append
    /// fails. Blind appends never conflict, so retries only re-read the log. Default: 100.
    #[serde(default = "default_max_commit_retries")]
    pub max_commit_retries: usize,
}

/// The subset of TOML values `delta_write_options` may hold.
pub mod toml_value {
    use serde::Deserialize;

    /// One `delta_write_options` value.
    #[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
    #[serde(untagged)]
    pub enum Value {
        /// A string such as `"append"`.
        Str(String),
        /// An integer.
        Int(i64),
        /// A boolean.
        Bool(bool),
    }
}

fn default_max_commit_retries() -> usize {
    100
}

impl DeltaConfig {
    /// A store rooted at `root_path` with the nested layout and no storage options.
    pub fn new(root_path: impl Into<String>) -> Self {
        DeltaConfig {
            root_path: root_path.into(),
            storage_options: BTreeMap::new(),
            layout: Layout::Nested,
            delta_write_options: BTreeMap::new(),
            max_commit_retries: default_max_commit_retries(),
        }
    }

    /// Adds an object-store option (credentials, endpoint, region, ...).
    pub fn with_storage_option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.storage_options.insert(key.into(), value.into());
        self
    }

    /// Chooses the table layout.
    pub fn with_layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    /// Checks `delta_write_options`: only Python Metaxy's defaults are accepted.
    pub(crate) fn check_write_options(&self) -> Result<(), (String, String)> {
        use toml_value::Value;
        for (key, value) in &self.delta_write_options {
            let ok = match (key.as_str(), value) {
                ("mode", Value::Str(v)) => v == "append",
                ("schema_mode", Value::Str(v)) => v == "merge",
                _ => false,
            };
            if !ok {
                return Err((
                    format!("delta_write_options.{key}"),
                    "metaxy-rs always appends with schema_mode = \"merge\" (metadata is \
                     append-only); only mode = \"append\" and schema_mode = \"merge\" are \
                     accepted here — remove the option"
                        .to_string(),
                ));
            }
        }
        Ok(())
    }
}

impl fmt::Debug for DeltaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeltaConfig")
            .field("root_path", &crate::location::redact(&self.root_path))
            .field(
                "storage_options",
                &self
                    .storage_options
                    .keys()
                    .map(|k| format!("{k}=<redacted>"))
                    .collect::<Vec<_>>(),
            )
            .field("layout", &self.layout)
            .field("max_commit_retries", &self.max_commit_retries)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn debug_never_shows_option_values() {
        let c = DeltaConfig::new("s3://user:pw@bucket/prefix")
            .with_storage_option("AWS_SECRET_ACCESS_KEY", "very-secret");
        let shown = format!("{c:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(!shown.contains("pw"), "{shown}");
        assert!(shown.contains("AWS_SECRET_ACCESS_KEY"), "{shown}");
    }

    #[test]
    fn write_options_other_than_the_defaults_are_rejected() {
        let mut c = DeltaConfig::new("/tmp/x");
        c.delta_write_options
            .insert("mode".into(), toml_value::Value::Str("append".into()));
        c.delta_write_options
            .insert("schema_mode".into(), toml_value::Value::Str("merge".into()));
        assert!(c.check_write_options().is_ok());
        c.delta_write_options
            .insert("mode".into(), toml_value::Value::Str("overwrite".into()));
        let (key, message) = c.check_write_options().unwrap_err();
        assert_eq!(key, "delta_write_options.mode");
        assert!(message.contains("append-only"));
    }
}

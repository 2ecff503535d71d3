//! The LanceDB store's configuration, as it appears under `[stores.<name>.config]`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

/// Where the Lance tables live and how to reach them.
///
/// `storage_options` are handed to Lance's object store unchanged (`aws_region`,
/// `aws_endpoint`, `aws_access_key_id`, ...). They may hold credentials, so `Debug` shows only
/// their keys and nothing here ever logs their values.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanceDbConfig {
    /// The database: a local directory (created on open) or, when built with the `aws` /
    /// `gcs` / `azure` feature, an object-store URI (`s3://bucket/prefix`, ...).
    pub uri: String,
    /// Options for the object store (credentials, endpoint, region).
    #[serde(default)]
    pub storage_options: BTreeMap<String, String>,
    /// Python Metaxy's `connect_kwargs` (keyword arguments of `lancedb.connect`). Only
    /// `storage_options` has a meaning here; it is merged into [`Self::storage_options`].
    /// Anything else (`api_key`, `region` for LanceDB Cloud) is rejected rather than ignored.
    #[serde(default)]
    pub connect_kwargs: BTreeMap<String, ConnectKwarg>,
}

/// One value under `connect_kwargs`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ConnectKwarg {
    /// A table of strings, as `storage_options` is.
    Table(BTreeMap<String, String>),
    /// A string such as an API key (rejected: LanceDB Cloud is not supported).
    Str(String),
}

impl LanceDbConfig {
    /// A store at `uri` with no storage options.
    pub fn new(uri: impl Into<String>) -> Self {
        LanceDbConfig {
            uri: uri.into(),
            storage_options: BTreeMap::new(),
            connect_kwargs: BTreeMap::new(),
        }
    }

    /// Adds an object-store option (credentials, endpoint, region, ...).
    pub fn with_storage_option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.storage_options.insert(key.into(), value.into());
        self
    }

    /// The storage options with `connect_kwargs.storage_options` merged in, or the offending
    /// config key and why it is rejected.
    pub(crate) fn effective_storage_options(
        &self,
    ) -> Result<BTreeMap<String, String>, (String, String)> {
        let mut options = self.storage_options.clone();
        for (key, value) in &self.connect_kwargs {
            match (key.as_str(), value) {
                ("storage_options", ConnectKwarg::Table(extra)) => {
                    options.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                _ => {
                    return Err((
                        format!("connect_kwargs.{key}"),
                        "only connect_kwargs.storage_options is supported by metaxy-rs \
                         (LanceDB Cloud options such as api_key are not); move object-store \
                         settings to storage_options and remove the rest"
                            .to_string(),
                    ));
                }
            }
        }
        Ok(options)
    }
}

impl fmt::Debug for LanceDbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<String> = self
            .storage_options
            .keys()
            .map(|k| format!("{k}=<redacted>"))
            .collect();
        keys.extend(
            self.connect_kwargs
                .keys()
                .map(|k| format!("connect_kwargs.{k}=<redacted>")),
        );
        f.debug_struct("LanceDbConfig")
            .field("uri", &redact(&self.uri))
            .field("storage_options", &keys)
            .finish()
    }
}

/// A URI without user info and query string (either may carry credentials).
pub(crate) fn redact(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_string();
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host = authority.rsplit('@').next().unwrap_or_default();
    format!("{scheme}://{host}{path}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let mut c = LanceDbConfig::new("s3://user:pw@bucket/prefix?token=abc")
            .with_storage_option("aws_secret_access_key", "very-secret");
        c.connect_kwargs.insert(
            "storage_options".into(),
            ConnectKwarg::Table([("aws_session_token".into(), "tok-123".into())].into()),
        );
        let shown = format!("{c:?}");
        for secret in ["very-secret", "pw", "tok-123", "abc"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("s3://bucket/prefix"), "{shown}");
        assert!(shown.contains("aws_secret_access_key"), "{shown}");
    }

    #[test]
    fn connect_kwargs_storage_options_merge_and_the_rest_is_rejected() {
        let mut c = LanceDbConfig::new("/tmp/x").with_storage_option("a", "1");
        c.connect_kwargs.insert(
            "storage_options".into(),
            ConnectKwarg::Table([("b".into(), "2".into())].into()),
        );
        let merged = c.effective_storage_options().unwrap();
        assert_eq!(merged.get("a").map(String::as_str), Some("1"));
        assert_eq!(merged.get("b").map(String::as_str), Some("2"));
        c.connect_kwargs
            .insert("api_key".into(), ConnectKwarg::Str("k".into()));
        let (key, message) = c.effective_storage_options().unwrap_err();
        assert_eq!(key, "connect_kwargs.api_key");
        assert!(message.contains("storage_options"), "{message}");
    }

    #[test]
    fn redaction_keeps_plain_paths() {
        assert_eq!(redact("/data/lance"), "/data/lance");
        assert_eq!(redact("s3://bucket"), "s3://bucket");
        assert_eq!(redact("gs://k@bucket/a/b"), "gs://bucket/a/b");
    }
}

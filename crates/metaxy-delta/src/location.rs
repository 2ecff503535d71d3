//! Where each feature's Delta table lives: the root URL and the per-key table URL, laid out
//! exactly as Python Metaxy lays them out (reference section 5.9).

use std::path::{Path, PathBuf};

use metaxy_core::{Error, FeatureKey, Result};
use url::Url;

use crate::config::Layout;

/// The suffix of every table directory.
pub(crate) const TABLE_SUFFIX: &str = ".delta";

/// The parsed root of a Delta store.
#[derive(Clone, Debug)]
pub(crate) struct Root {
    /// The root as a URL with a trailing slash (`file:///data/meta/`, `s3://bucket/prefix/`).
    pub url: Url,
    /// The local directory, for `file://` roots.
    pub local: Option<PathBuf>,
    /// The layout of tables under the root.
    pub layout: Layout,
}

impl Root {
    /// Parses `root_path`: a local path (relative paths are taken as given; the registry
    /// resolves them against the config file), `file://`, `local://`, or an object-store URI
    /// whose scheme this build supports.
    pub fn parse(root_path: &str, layout: Layout) -> Result<Root> {
        let trimmed = root_path.trim();
        if trimmed.is_empty() {
            return Err(Error::InvalidArgument(
                "Delta store: root_path is empty; set it to a directory or an object-store URI \
                 such as s3://bucket/prefix"
                    .into(),
            ));
        }
        let url = if let Some(rest) = trimmed.strip_prefix("local://") {
            local_url(Path::new(rest))?
        } else if trimmed.contains("://") {
            let url = Url::parse(trimmed).map_err(|e| {
                Error::InvalidArgument(format!(
                    "Delta store: root_path {} is not a valid URI: {e}",
                    redact(trimmed)
                ))
            })?;
            if url.scheme() == "file" {
                let path = url.to_file_path().map_err(|()| {
                    Error::InvalidArgument(format!(
                        "Delta store: root_path {trimmed} is not a local file URI"
                    ))
                })?;
                local_url(&path)?
            } else {
                check_scheme(&url)?;
                url
            }
        } else {
            local_url(Path::new(trimmed))?
        };
        let url = with_trailing_slash(url);
        let local = if url.scheme() == "file" {
            url.to_file_path().ok()
        } else {
            None
        };
        Ok(Root { url, local, layout })
    }

    /// The relative path of a feature's table directory under the root (no trailing slash).
    pub fn table_path(&self, key: &FeatureKey) -> String {
        match self.layout {
            Layout::Nested => format!("{}{TABLE_SUFFIX}", key.parts().join("/")),
            Layout::Flat => format!("{}{TABLE_SUFFIX}", key.table_name()),
        }
    }

    /// The URL of a feature's table directory.
    pub fn table_url(&self, key: &FeatureKey) -> Result<Url> {
        // Key parts are validated to `[A-Za-z0-9_-]`, so joining cannot escape the root.
        self.url
            .join(&format!("{}/", self.table_path(key)))
            .map_err(|e| Error::InvalidArgument(format!("Delta store: bad table path: {e}")))
    }

    /// The table name of a table directory found under the root (`a/b-c.delta` → `a__b_c`),
    /// or `None` when the path is not a table path of this layout.
    pub fn table_name_of(&self, relative_dir: &str) -> Option<String> {
        let stem = relative_dir
            .trim_end_matches('/')
            .strip_suffix(TABLE_SUFFIX)?;
        if stem.is_empty() {
            return None;
        }
        Some(match self.layout {
            Layout::Nested => stem
                .split('/')
                .map(|p| p.replace('-', "_"))
                .collect::<Vec<_>>()
                .join("__"),
            Layout::Flat => {
                if stem.contains('/') {
                    return None;
                }
                stem.to_string()
            }
        })
    }

    /// The root for messages: no user info, no query.
    pub fn display(&self) -> String {
        redact(self.url.as_str())
    }
}

fn local_url(path: &Path) -> Result<Url> {
    let absolute = std::path::absolute(path).map_err(|e| {
        Error::InvalidArgument(format!(
            "Delta store: cannot resolve root_path {}: {e}",
            path.display()
        ))
    })?;
    Url::from_directory_path(&absolute).map_err(|()| {
        Error::InvalidArgument(format!(
            "Delta store: root_path {} cannot be used as a directory",
            absolute.display()
        ))
    })
}

fn with_trailing_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

/// Fails with a clear message when the URI's scheme needs a cargo feature this build lacks.
fn check_scheme(url: &Url) -> Result<()> {
    let (feature, enabled) = match url.scheme() {
        "s3" | "s3a" => ("s3", cfg!(feature = "s3")),
        "az" | "abfs" | "abfss" | "azure" | "adl" => ("azure", cfg!(feature = "azure")),
        "gs" | "gcs" => ("gcs", cfg!(feature = "gcs")),
        "memory" => ("", true),
        other => {
            return Err(Error::InvalidArgument(format!(
                "Delta store: root_path scheme `{other}://` is not supported; use a local path, \
                 file://, s3:// (feature `s3`), az:// / abfss:// (feature `azure`) or gs:// \
                 (feature `gcs`)"
            )));
        }
    };
    if !enabled {
        return Err(Error::InvalidArgument(format!(
            "Delta store: root_path uses `{}://`, but metaxy-delta was built without its `{feature}` \
             cargo feature; enable it (metaxy-delta = {{ features = [\"{feature}\"] }})",
            url.scheme()
        )));
    }
    Ok(())
}

/// A URI with user info and query removed (they may carry credentials).
pub(crate) fn redact(uri: &str) -> String {
    match Url::parse(uri) {
        Ok(mut url) if url.scheme() != "file" => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.to_string()
        }
        Ok(url) => url
            .to_file_path()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|()| url.to_string()),
        Err(_) => uri.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn key(s: &str) -> FeatureKey {
        FeatureKey::new(s).unwrap()
    }

    #[test]
    fn nested_layout_keeps_hyphens_and_nests_parts() {
        let root = Root::parse("/data/meta", Layout::Nested).unwrap();
        assert_eq!(root.url.as_str(), "file:///data/meta/");
        assert_eq!(
            root.table_url(&key("example/video-raw")).unwrap().as_str(),
            "file:///data/meta/example/video-raw.delta/"
        );
        assert_eq!(
            root.table_name_of("example/video-raw.delta").as_deref(),
            Some("example__video_raw")
        );
        assert_eq!(root.table_name_of("example/video-raw"), None);
    }

    #[test]
    fn flat_layout_uses_table_names() {
        let root = Root::parse("s3://bucket/prefix", Layout::Flat);
        if cfg!(feature = "s3") {
            let root = root.unwrap();
            assert_eq!(
                root.table_url(&key("example/video-raw")).unwrap().as_str(),
                "s3://bucket/prefix/example__video_raw.delta/"
            );
            assert_eq!(root.table_name_of("a/b.delta"), None);
        } else {
            assert!(root.unwrap_err().to_string().contains("feature"));
        }
    }

    #[test]
    fn local_and_file_uris_are_the_same_root() {
        let a = Root::parse("file:///data/meta/", Layout::Nested).unwrap();
        let b = Root::parse("local:///data/meta", Layout::Nested).unwrap();
        assert_eq!(a.url, b.url);
        assert_eq!(a.local.as_deref(), Some(Path::new("/data/meta/")));
    }

    #[test]
    fn unknown_schemes_and_empty_roots_are_clear_errors() {
        let e = Root::parse("ftp://host/x", Layout::Nested).unwrap_err();
        assert!(e.to_string().contains("ftp://"), "{e}");
        let e = Root::parse("  ", Layout::Nested).unwrap_err();
        assert!(e.to_string().contains("root_path is empty"), "{e}");
    }

    #[test]
    fn redaction_drops_credentials() {
        assert_eq!(
            redact("s3://key:secret@bucket/p?token=x"),
            "s3://bucket/p".to_string()
        );
    }
}

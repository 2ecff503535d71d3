//! Feature definitions from files: Metaxy's spec JSON as JSON, TOML or YAML.
//!
//! A file holds a list of specs, either at the top level (JSON / YAML lists) or under a
//! `features` key (`[[features]]` tables in TOML):
//!
//! ```toml
//! [[features]]
//! key = "example/video"
//! id_columns = ["sample_uid"]
//! fields = [{ key = "audio", code_version = "1" }, { key = "frames", code_version = "1" }]
//! ```

use std::path::Path;

use metaxy_core::{Error, FeatureSpec, Result};
use serde_json::Value;

/// Reads the specs of every file, in order.
pub fn load_files<P: AsRef<Path>>(paths: &[P]) -> Result<Vec<FeatureSpec>> {
    let mut out = Vec::new();
    for p in paths {
        out.extend(load_file(p.as_ref())?);
    }
    Ok(out)
}

/// Reads the specs of one file (format from the extension: `.json`, `.toml`, `.yaml`/`.yml`).
pub fn load_file(path: &Path) -> Result<Vec<FeatureSpec>> {
    let fail = |message: String| Error::InvalidSpec {
        feature: None,
        message: format!("{}: {message}", path.display()),
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(format!("cannot read the definitions file: {e}")))?;
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let value: Value = match ext.as_str() {
        "json" => serde_json::from_str(&text).map_err(|e| fail(format!("not valid JSON: {e}")))?,
        "toml" => {
            let t: toml::Table = text.parse().map_err(|e: toml::de::Error| {
                fail(format!("not valid TOML: {}", e.message().trim()))
            })?;
            serde_json::to_value(t).map_err(|e| fail(e.to_string()))?
        }
        "yaml" | "yml" => {
            serde_yaml_ng::from_str(&text).map_err(|e| fail(format!("not valid YAML: {e}")))?
        }
        other => {
            return Err(fail(format!(
                "unknown definitions format `.{other}`; use .json, .toml, .yaml or .yml"
            )));
        }
    };
    let items = match value {
        Value::Array(items) => items,
        Value::Object(mut m) => match m.remove("features") {
            Some(Value::Array(items)) => items,
            _ => {
                return Err(fail(
                    "expected a list of feature specs, or a `features` list".into(),
                ));
            }
        },
        _ => {
            return Err(fail(
                "expected a list of feature specs, or a `features` list".into(),
            ));
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            FeatureSpec::from_json(item).map_err(|e| fail(format!("feature #{}: {e}", i + 1)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn json_toml_and_yaml_agree() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("f.json");
        std::fs::write(&json, r#"[{"key": "a/b", "id_columns": ["id"], "fields": [{"key": "x", "code_version": "2"}]}]"#).unwrap();
        let toml = dir.path().join("f.toml");
        std::fs::write(&toml, "[[features]]\nkey = \"a/b\"\nid_columns = [\"id\"]\nfields = [{ key = \"x\", code_version = \"2\" }]\n").unwrap();
        let yaml = dir.path().join("f.yaml");
        std::fs::write(
            &yaml,
            "- key: a/b\n  id_columns: [id]\n  fields:\n    - key: x\n      code_version: \"2\"\n",
        )
        .unwrap();
        let a = load_file(&json).unwrap();
        assert_eq!(a, load_file(&toml).unwrap());
        assert_eq!(a, load_file(&yaml).unwrap());
        let bad = dir.path().join("bad.yaml");
        std::fs::write(&bad, "- key: A\n  id_columns: [id]\n").unwrap();
        let e = load_file(&bad).unwrap_err().to_string();
        assert!(e.contains("bad.yaml") && e.contains("feature #1"), "{e}");
    }
}

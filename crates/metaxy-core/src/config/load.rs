//! Finding and assembling `metaxy.toml`: discovery, `extend` inheritance, `METAXY_*`
//! environment overrides and `${VAR:-default}` templating (reference section 6.3).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

use crate::error::{Error, Result};

/// The config file name searched for in the working directory and its parents.
pub const CONFIG_FILE: &str = "metaxy.toml";

/// Finds the config file: `METAXY_CONFIG`, else `metaxy.toml` in `start` or a parent, else a
/// `pyproject.toml` with a non-empty `[tool.metaxy]` table.
pub fn discover(start: &Path, env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(p) = env("METAXY_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let mut dir = Some(start);
    while let Some(d) = dir {
        let candidate = d.join(CONFIG_FILE);
        if candidate.is_file() {
            return Some(candidate);
        }
        let py = d.join("pyproject.toml");
        if py.is_file()
            && let Ok(text) = std::fs::read_to_string(&py)
            && let Ok(t) = text.parse::<Table>()
            && t.get("tool")
                .and_then(|t| t.get("metaxy"))
                .and_then(Value::as_table)
                .is_some_and(|m| !m.is_empty())
        {
            return Some(py);
        }
        dir = d.parent();
    }
    None
}

fn file_str(path: &Path) -> String {
    path.display().to_string()
}

/// Reads one file as a raw table (the `[tool.metaxy]` table of a `pyproject.toml`).
fn read_table(path: &Path) -> Result<Table> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::config(
            Some(&file_str(path)),
            None,
            format!("cannot read the config file: {e}"),
        )
    })?;
    let mut table: Table = text.parse().map_err(|e: toml::de::Error| {
        Error::config(
            Some(&file_str(path)),
            None,
            format!("not valid TOML: {}", e.message().trim()),
        )
    })?;
    if path.file_name().is_some_and(|n| n == "pyproject.toml") {
        table = table
            .get("tool")
            .and_then(|t| t.get("metaxy"))
            .and_then(Value::as_table)
            .cloned()
            .unwrap_or_default();
    }
    Ok(table)
}

/// Reads `path` and resolves its `extend` chain: child scalars replace, tables merge
/// shallowly (child keys win), arrays concatenate (parent then child). Cycles are errors.
pub fn read_with_extends(path: &Path) -> Result<Table> {
    let mut seen = BTreeSet::new();
    read_chain(path, &mut seen)
}

fn read_chain(path: &Path, seen: &mut BTreeSet<PathBuf>) -> Result<Table> {
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if !seen.insert(canonical.clone()) {
        return Err(Error::config(
            Some(&file_str(path)),
            Some("extend"),
            "the `extend` chain is cyclic: this file extends itself through its parents; remove one `extend`",
        ));
    }
    let mut table = read_table(path)?;
    let Some(parent) = table.remove("extend") else {
        return Ok(table);
    };
    let Value::String(parent) = parent else {
        return Err(Error::config(
            Some(&file_str(path)),
            Some("extend"),
            "`extend` must be a file path string",
        ));
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let parent_path = base.join(&parent);
    if !parent_path.is_file() {
        return Err(Error::config(
            Some(&file_str(path)),
            Some("extend"),
            format!("the extended file {} does not exist", parent_path.display()),
        ));
    }
    let mut merged = read_chain(&parent_path, seen)?;
    for (k, v) in table {
        let value = match (merged.remove(&k), v) {
            (Some(Value::Table(mut p)), Value::Table(c)) => {
                for (ck, cv) in c {
                    p.insert(ck, cv);
                }
                Value::Table(p)
            }
            (Some(Value::Array(mut p)), Value::Array(c)) => {
                p.extend(c);
                Value::Array(p)
            }
            (_, v) => v,
        };
        merged.insert(k, value);
    }
    Ok(merged)
}

/// Applies `METAXY_<KEY>` overrides (nested with `__`, e.g.
/// `METAXY_STORES__PROD__CONFIG__ROOT_PATH`). Values that parse as TOML scalars keep their
/// type (`true`, `16`); anything else is a string.
pub fn apply_env(table: &mut Table, vars: &[(String, String)]) {
    const IGNORED: [&str; 3] = ["METAXY_CONFIG", "METAXY_LOG", "METAXY_LOG_LEVEL"];
    for (name, raw) in vars {
        let Some(rest) = name.strip_prefix("METAXY_") else {
            continue;
        };
        if IGNORED.contains(&name.as_str()) || rest.is_empty() || name.starts_with("METAXY_TEST_") {
            continue;
        }
        let path: Vec<String> = rest.split("__").map(|p| p.to_lowercase()).collect();
        let value = parse_scalar(raw);
        set_path(table, &path, value);
    }
}

fn parse_scalar(raw: &str) -> Value {
    let probe = format!("v = {raw}");
    match probe.parse::<Table>() {
        Ok(mut t) => match t.remove("v") {
            Some(
                v @ (Value::Boolean(_) | Value::Integer(_) | Value::Float(_) | Value::Array(_)),
            ) => v,
            _ => Value::String(raw.to_string()),
        },
        Err(_) => Value::String(raw.to_string()),
    }
}

fn set_path(table: &mut Table, path: &[String], value: Value) {
    match path {
        [] => {}
        [last] => {
            table.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| Value::Table(Table::new()));
            if !entry.is_table() {
                *entry = Value::Table(Table::new());
            }
            if let Value::Table(t) = entry {
                set_path(t, rest, value);
            }
        }
    }
}

/// Expands `${VAR}` and `${VAR:-default}` in every string (recursively). Unset variables
/// without a default become empty strings, as in Metaxy.
pub fn expand_templates(value: &mut Value, env: &dyn Fn(&str) -> Option<String>) {
    match value {
        Value::String(s) => *s = expand(s, env),
        Value::Array(items) => items.iter_mut().for_each(|v| expand_templates(v, env)),
        Value::Table(t) => t.iter_mut().for_each(|(_, v)| expand_templates(v, env)),
        _ => {}
    }
}

fn expand(s: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        let value = env(name).filter(|v| !(v.is_empty() && default.is_some()));
        out.push_str(&value.unwrap_or_else(|| default.unwrap_or_default().to_string()));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        let env = |k: &str| match k {
            "HOME" => Some("/home/me".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        assert_eq!(expand("${HOME}/x", &env), "/home/me/x");
        assert_eq!(expand("a-${NOPE:-d}-b", &env), "a-d-b");
        assert_eq!(expand("${NOPE}", &env), "");
        assert_eq!(expand("${EMPTY:-fallback}", &env), "fallback");
        assert_eq!(expand("no ${closing", &env), "no ${closing");
    }

    #[test]
    fn env_overrides_nest_and_keep_types() {
        let mut t: Table = "store = 'dev'\n[stores.prod]\ntype = 'duckdb'"
            .parse()
            .unwrap();
        apply_env(
            &mut t,
            &[
                ("METAXY_STORE".into(), "prod".into()),
                ("METAXY_HASH_TRUNCATION_LENGTH".into(), "16".into()),
                (
                    "METAXY_STORES__PROD__CONFIG__DATABASE".into(),
                    "/tmp/p.duckdb".into(),
                ),
                ("METAXY_CONFIG".into(), "ignored".into()),
                ("OTHER".into(), "x".into()),
            ],
        );
        assert_eq!(t["store"].as_str(), Some("prod"));
        assert_eq!(t["hash_truncation_length"].as_integer(), Some(16));
        assert_eq!(t["stores"]["prod"]["type"].as_str(), Some("duckdb"));
        assert_eq!(
            t["stores"]["prod"]["config"]["database"].as_str(),
            Some("/tmp/p.duckdb")
        );
        assert!(t.get("config").is_none());
    }
}

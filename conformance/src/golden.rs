//! The golden-case runner: executes case files recorded from Metaxy 0.1.11 against a backend
//! and reports the first difference (format: `conformance/golden/README.md`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, UInt32Array};
use metaxy_core::store::StoreSettings;
use metaxy_core::{
    AccessMode, Backend, DeleteOptions, Expr, FeatureGraph, FeatureKey, HashAlgorithm, Increment,
    MetadataStore, ReadOptions, ResolveOptions, columns,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::factory::BackendFactory;
use crate::rows::{batch_to_rows, rows_to_batch};

/// A parsed case file.
#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    /// The format version (only 1 is known).
    pub format: u32,
    /// The case name.
    pub name: String,
    /// What it shows.
    #[serde(default)]
    pub description: String,
    /// Hash settings.
    pub config: CaseConfig,
    /// Feature specs in Metaxy's JSON form.
    pub graph: Value,
    /// Expected definition-level versions.
    #[serde(default)]
    pub versions: Option<Value>,
    /// The steps, in order.
    pub steps: Vec<Value>,
}

/// The hash settings of a case.
#[derive(Debug, Clone, Deserialize)]
pub struct CaseConfig {
    /// `xxhash64`, `xxhash32`, `wyhash`, `md5` or `sha256`.
    pub hash_algorithm: String,
    /// Truncation length.
    pub hash_truncation_length: Option<usize>,
}

/// Loads one case file.
pub fn load_case(path: &Path) -> Result<Case, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let raw: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not valid JSON: {e}", path.display()))?;
    let format = raw.get("format").and_then(Value::as_u64);
    if format != Some(1) {
        return Err(format!(
            "{}: unsupported case format {}; this runner understands format 1",
            path.display(),
            raw.get("format")
                .map(|v| v.to_string())
                .unwrap_or_else(|| "(missing)".into())
        ));
    }
    serde_json::from_value(raw).map_err(|e| format!("{}: malformed case: {e}", path.display()))
}

/// Every `*.json` file under the given files and directories, sorted.
pub fn collect_case_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("cannot list {}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            entries.sort();
            out.extend(entries);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(format!("{} does not exist", p.display()));
        }
    }
    Ok(out)
}

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The case name (or file name when it could not be parsed).
    pub name: String,
    /// `None` when the case passed, else the first difference.
    pub failure: Option<String>,
}

/// Runs every case file and returns one outcome per file.
pub async fn run_files(files: &[PathBuf], factory: &dyn BackendFactory) -> Vec<Outcome> {
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let fallback_name = f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let outcome = match load_case(f) {
            Ok(case) => Outcome {
                name: case.name.clone(),
                failure: run_case(&case, factory).await.err(),
            },
            Err(e) => Outcome {
                name: fallback_name,
                failure: Some(e),
            },
        };
        out.push(outcome);
    }
    out
}

fn graph_of(case: &Case, graph: &Value, versions: Option<&Value>) -> Result<FeatureGraph, String> {
    let g = FeatureGraph::from_json(graph, case.config.hash_truncation_length)
        .map_err(|e| format!("graph: {e}"))?;
    if let Some(Value::Object(expected)) = versions {
        for (key, v) in expected {
            let k = FeatureKey::new(key).map_err(|e| e.to_string())?;
            let want = v
                .get("feature_version")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let got = g.feature_version(&k).map_err(|e| e.to_string())?;
            if got != want {
                return Err(format!(
                    "feature version of `{key}`: expected {want}, got {got}"
                ));
            }
            if let Some(Value::Object(fields)) = v.get("fields") {
                for (field, want) in fields {
                    let fk = metaxy_core::FieldKey::new(field).map_err(|e| e.to_string())?;
                    let got = g.field_version(&k, &fk).map_err(|e| e.to_string())?;
                    if Some(got) != want.as_str() {
                        return Err(format!(
                            "field version of `{key}.{field}`: expected {want}, got {got}"
                        ));
                    }
                }
            }
        }
    }
    Ok(g)
}

/// Runs one case against a fresh backend; `Err` carries the first difference.
pub async fn run_case(case: &Case, factory: &dyn BackendFactory) -> Result<(), String> {
    let backend = factory
        .fresh()
        .await
        .map_err(|e| format!("cannot create a {} backend: {e}", factory.name()))?;
    let store = store_for(case, backend)?;
    let _open = store
        .open(AccessMode::Write)
        .await
        .map_err(|e| e.to_string())?;
    run_steps(case, &store, &case.steps).await
}

/// A store over `backend` with the case's graph and hash algorithm (not yet opened).
pub fn store_for(case: &Case, backend: Arc<dyn Backend>) -> Result<MetadataStore, String> {
    let algorithm: HashAlgorithm = case
        .config
        .hash_algorithm
        .parse()
        .map_err(|e: metaxy_core::Error| e.to_string())?;
    let graph = graph_of(case, &case.graph, case.versions.as_ref())?;
    let settings = StoreSettings {
        hash_algorithm: algorithm,
        ..StoreSettings::default()
    };
    Ok(MetadataStore::with_settings(backend, graph, settings))
}

/// Runs `steps` (some of a case's steps) on an open store, e.g. the read and resolve checks
/// of a case against a store another implementation wrote. `Err` carries the first
/// difference.
pub async fn run_steps(case: &Case, store: &MetadataStore, steps: &[Value]) -> Result<(), String> {
    let mut last: HashMap<String, Increment> = HashMap::new();
    for (i, step) in steps.iter().enumerate() {
        let op = step.get("op").and_then(Value::as_str).unwrap_or("?");
        run_step(case, store, step, op, &mut last)
            .await
            .map_err(|e| {
                format!(
                    "step {i} ({op}{}): {e}",
                    feature_of(step)
                        .map(|f| format!(" {f}"))
                        .unwrap_or_default()
                )
            })?;
    }
    Ok(())
}

fn feature_of(step: &Value) -> Option<&str> {
    step.get("feature").and_then(Value::as_str)
}

fn sql_list(v: Option<&Value>) -> Result<Vec<Expr>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|s| {
                let s = s.as_str().ok_or("filters must be strings")?;
                Expr::parse(s).map_err(|e| e.to_string())
            })
            .collect(),
        Some(other) => Err(format!("expected a list of SQL strings, got {other}")),
    }
}

async fn run_step(
    case: &Case,
    store: &MetadataStore,
    step: &Value,
    op: &str,
    last: &mut HashMap<String, Increment>,
) -> Result<(), String> {
    let feature = || feature_of(step).ok_or_else(|| "missing `feature`".to_string());
    match op {
        "set_graph" => {
            let graph = step.get("graph").ok_or("missing `graph`")?;
            store.set_graph(graph_of(case, graph, step.get("versions"))?);
        }
        "write" => {
            let rows = step
                .get("rows")
                .and_then(Value::as_array)
                .ok_or("missing `rows`")?;
            let batch = rows_to_batch(rows)?;
            store
                .write(feature()?, batch)
                .await
                .map_err(|e| e.to_string())?;
        }
        "resolve" => {
            let key = feature()?;
            let mut options = ResolveOptions::new();
            if let Some(Value::Array(samples)) = step.get("samples") {
                options = options.samples(rows_to_batch(samples)?);
            }
            if let Some(Value::Object(filters)) = step.get("filters") {
                for (fk, list) in filters {
                    for e in sql_list(Some(list))? {
                        options = options.filter(fk.as_str(), e).map_err(|e| e.to_string())?;
                    }
                }
            }
            options.global_filters = sql_list(step.get("global_filters"))?;
            options.staleness_predicates = sql_list(step.get("stale_if"))?;
            let inc = store
                .resolve_update(key, options)
                .await
                .map_err(|e| e.to_string())?;
            let expect = step.get("expect").ok_or("missing `expect`")?;
            for part in ["new", "stale", "orphaned"] {
                if let Some(Value::Array(rows)) = expect.get(part) {
                    let actual = match part {
                        "new" => &inc.new,
                        "stale" => &inc.stale,
                        _ => &inc.orphaned,
                    };
                    compare_rows(part, rows, actual)?;
                }
            }
            last.insert(key.to_string(), inc);
        }
        "write_increment" => {
            let key = feature()?;
            let inc = last
                .get(key)
                .ok_or_else(|| format!("no earlier resolve of `{key}` to write"))?;
            let graph = store.graph();
            let fk = FeatureKey::new(key).map_err(|e| e.to_string())?;
            let spec = graph.spec(&fk).map_err(|e| e.to_string())?;
            let stale = metaxy_core::batches::without_columns(&inc.stale, &[columns::STALE_FIELDS]);
            let both = metaxy_core::batches::concat_merged(&[inc.new.clone(), stale])
                .map_err(|e| e.to_string())?;
            let mut rows = match step.get("expand") {
                Some(Value::Object(expand)) => {
                    let column = expand
                        .get("column")
                        .and_then(Value::as_str)
                        .ok_or("expand needs `column`")?;
                    let count = expand
                        .get("count")
                        .and_then(Value::as_u64)
                        .ok_or("expand needs `count`")?;
                    let parents = dedup_by(
                        &both,
                        &graph.plan(&fk).map_err(|e| e.to_string())?.join_columns,
                    )?;
                    expand_rows(&parents, column, count)?
                }
                _ => both,
            };
            rows = dedup_by(&rows, &spec.id_columns)?;
            let written = store.write(key, rows).await.map_err(|e| e.to_string())?;
            if let Some(want) = step.get("expect_rows_written").and_then(Value::as_u64)
                && want != written
            {
                return Err(format!("expected {want} rows written, wrote {written}"));
            }
        }
        "delete" => {
            let filter = match step.get("filter") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(Expr::parse(s).map_err(|e| e.to_string())?),
                Some(other) => return Err(format!("`filter` must be SQL or null, got {other}")),
            };
            let soft = step.get("soft").and_then(Value::as_bool).unwrap_or(true);
            let options = if soft {
                DeleteOptions::soft()
            } else {
                DeleteOptions::hard()
            };
            store
                .delete(feature()?, filter, options)
                .await
                .map_err(|e| e.to_string())?;
        }
        "read" => {
            let batch = store
                .read(feature()?, ReadOptions::new())
                .await
                .map_err(|e| e.to_string())?;
            let rows = step
                .get("expect")
                .and_then(Value::as_array)
                .ok_or("missing `expect`")?;
            compare_rows("read", rows, &batch)?;
        }
        other => return Err(format!("unknown op `{other}`")),
    }
    Ok(())
}

/// The first row of every distinct value of `columns`.
fn dedup_by(batch: &RecordBatch, columns: &[String]) -> Result<RecordBatch, String> {
    let rows = batch_to_rows(batch)?;
    let mut seen = std::collections::HashSet::new();
    let keep: Vec<u32> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            let key: Vec<String> = columns
                .iter()
                .map(|c| r.get(c).map(|v| v.to_string()).unwrap_or_default())
                .collect();
            seen.insert(key)
        })
        .map(|(i, _)| i as u32)
        .collect();
    arrow_select::take::take_record_batch(batch, &UInt32Array::from(keep))
        .map_err(|e| e.to_string())
}

/// Repeats every row `count` times with `column` = 0..count-1 (a 1:N expansion).
fn expand_rows(batch: &RecordBatch, column: &str, count: u64) -> Result<RecordBatch, String> {
    let n = batch.num_rows();
    let idx: UInt32Array = (0..n as u32)
        .flat_map(|i| std::iter::repeat_n(i, count as usize))
        .collect();
    let repeated = arrow_select::take::take_record_batch(batch, &idx).map_err(|e| e.to_string())?;
    let child: ArrayRef = std::sync::Arc::new(Int64Array::from_iter_values(
        (0..n).flat_map(|_| 0..count as i64),
    ));
    metaxy_core::batches::with_column(&repeated, column, child).map_err(|e| e.to_string())
}

/// Compares expected JSON rows with a batch as multisets, on the expected rows' columns.
fn compare_rows(part: &str, expected: &[Value], actual: &RecordBatch) -> Result<(), String> {
    let columns: Vec<String> = expected
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|m| m.keys().cloned())
        .fold(Vec::new(), |mut acc, k| {
            if !acc.contains(&k) {
                acc.push(k);
            }
            acc
        });
    let actual_rows = batch_to_rows(actual)?;
    let project = |m: &Map<String, Value>| -> String {
        let mut o = Map::new();
        for c in &columns {
            o.insert(c.clone(), m.get(c).cloned().unwrap_or(Value::Null));
        }
        metaxy_core::canonical_json::to_python_json_sorted(&Value::Object(o))
    };
    let mut want: Vec<String> = expected
        .iter()
        .filter_map(Value::as_object)
        .map(project)
        .collect();
    let mut got: Vec<String> = actual_rows.iter().map(project).collect();
    want.sort();
    got.sort();
    if want == got {
        return Ok(());
    }
    let missing: Vec<&String> = want.iter().filter(|w| !got.contains(w)).collect();
    let extra: Vec<&String> = got.iter().filter(|g| !want.contains(g)).collect();
    let mut msg = format!("`{part}`: expected {} rows, got {}", want.len(), got.len());
    if let Some(m) = missing.first() {
        msg.push_str(&format!("; missing {m}"));
    }
    if let Some(x) = extra.first() {
        msg.push_str(&format!("; unexpected {x}"));
    }
    if actual.num_rows() > 0
        && !columns
            .iter()
            .all(|c| actual.schema().column_with_name(c).is_some())
    {
        let have: Vec<String> = actual
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        msg.push_str(&format!(" (result columns: {})", have.join(", ")));
    }
    Err(msg)
}

//! The system table `metaxy_system__feature_versions`: pushing feature definitions, the
//! history of pushed project versions, and graphs rebuilt from any pushed version
//! (reference sections 3.2, 4.13 and 7.1–7.2). The layout is Metaxy's, so definitions pushed
//! by Python Metaxy load here and the other way round.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray, new_null_array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde::Serialize;

use super::MetadataStore;
use super::clock::transaction_timestamp;
use crate::backend::ScanRequest;
use crate::error::{Error, Result};
use crate::filter::{Expr, Scalar};
use crate::graph::FeatureGraph;
use crate::key::FeatureKey;
use crate::spec::FeatureSpec;

/// The key of the feature-versions system table.
pub const FEATURE_VERSIONS_KEY: &str = "metaxy-system/feature_versions";
/// Its table name.
pub const FEATURE_VERSIONS_TABLE: &str = "metaxy_system__feature_versions";

/// The key of the feature-versions system table.
pub fn feature_versions_key() -> FeatureKey {
    FeatureKey::system("feature_versions")
}
/// What metaxy-rs records as `feature_class_path` (Python requires a non-null class path).
pub const RUST_CLASS_PATH_PREFIX: &str = "metaxy_rs:";

/// The Arrow schema of `metaxy_system__feature_versions` (reference 3.2).
pub fn feature_versions_schema() -> SchemaRef {
    let ts = DataType::Timestamp(TimeUnit::Microsecond, None);
    Arc::new(Schema::new(vec![
        Field::new("project", DataType::Utf8, true),
        Field::new("feature_key", DataType::Utf8, true),
        Field::new("metaxy_feature_version", DataType::Utf8, true),
        Field::new("metaxy_definition_version", DataType::Utf8, true),
        Field::new("recorded_at", ts.clone(), true),
        Field::new("feature_spec", DataType::Utf8, true),
        Field::new("feature_schema", DataType::Utf8, true),
        Field::new("feature_class_path", DataType::Utf8, true),
        Field::new("metaxy_project_version", DataType::Utf8, true),
        Field::new("tags", DataType::Utf8, true),
        Field::new("deleted_at", ts, true),
    ]))
}

/// The outcome of a push.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PushResult {
    /// The project version now recorded.
    pub project_version: String,
    /// Whether this project version had been pushed before.
    pub already_pushed: bool,
    /// Features whose definitions were re-recorded under an already pushed version.
    pub updated_features: Vec<String>,
    /// Rows appended to the system table.
    pub rows_written: usize,
}

/// One pushed project version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PushedVersion {
    /// The project version.
    pub project_version: String,
    /// When it was first recorded (microseconds since the epoch, UTC).
    pub recorded_at: i64,
    /// Rows recorded under it.
    pub feature_count: usize,
}

/// One row of the system table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedFeature {
    /// The project.
    pub project: String,
    /// The feature key.
    pub feature_key: String,
    /// Its feature version.
    pub feature_version: String,
    /// Its definition version.
    pub definition_version: String,
    /// The project version it was pushed under.
    pub project_version: String,
    /// Push time (microseconds, UTC).
    pub recorded_at: i64,
    /// The spec JSON as stored.
    pub feature_spec: String,
}

fn strings(batch: &RecordBatch, name: &str) -> Result<Vec<Option<String>>> {
    let col = batch.column_by_name(name).ok_or_else(|| {
        Error::schema(
            FEATURE_VERSIONS_KEY,
            format!("the system table has no `{name}` column"),
        )
    })?;
    let col = arrow_cast::cast(col, &DataType::Utf8)?;
    let col = col
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| Error::schema(FEATURE_VERSIONS_KEY, format!("`{name}` is not text")))?;
    Ok((0..col.len())
        .map(|i| col.is_valid(i).then(|| col.value(i).to_string()))
        .collect())
}

fn micros(batch: &RecordBatch, name: &str) -> Result<Vec<Option<i64>>> {
    let col = batch.column_by_name(name).ok_or_else(|| {
        Error::schema(
            FEATURE_VERSIONS_KEY,
            format!("the system table has no `{name}` column"),
        )
    })?;
    let col = arrow_cast::cast(col, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
    let col = arrow_cast::cast(&col, &DataType::Int64)?;
    let col = col
        .as_any()
        .downcast_ref::<arrow_array::Int64Array>()
        .ok_or_else(|| {
            Error::schema(FEATURE_VERSIONS_KEY, format!("`{name}` is not a timestamp"))
        })?;
    Ok((0..col.len())
        .map(|i| col.is_valid(i).then(|| col.value(i)))
        .collect())
}

fn parse_rows(batch: &RecordBatch) -> Result<Vec<PushedFeature>> {
    let project = strings(batch, "project")?;
    let key = strings(batch, "feature_key")?;
    let fv = strings(batch, "metaxy_feature_version")?;
    let dv = strings(batch, "metaxy_definition_version")?;
    let pv = strings(batch, "metaxy_project_version")?;
    let spec = strings(batch, "feature_spec")?;
    let at = micros(batch, "recorded_at")?;
    Ok((0..batch.num_rows())
        .map(|i| PushedFeature {
            project: project[i].clone().unwrap_or_default(),
            feature_key: key[i].clone().unwrap_or_default(),
            feature_version: fv[i].clone().unwrap_or_default(),
            definition_version: dv[i].clone().unwrap_or_default(),
            project_version: pv[i].clone().unwrap_or_default(),
            recorded_at: at[i].unwrap_or(i64::MIN),
            feature_spec: spec[i].clone().unwrap_or_default(),
        })
        .collect())
}

impl MetadataStore {
    fn project_of(&self, project: Option<&str>) -> Result<String> {
        project
            .map(str::to_string)
            .or_else(|| self.graph().project().map(str::to_string))
            .ok_or_else(|| {
                Error::InvalidArgument(
                    "no project: set `project` in metaxy.toml (or METAXY_PROJECT), or pass one"
                        .into(),
                )
            })
    }

    /// Every pushed row of a project (all projects when `None`).
    pub async fn pushed_features(&self, project: Option<&str>) -> Result<Vec<PushedFeature>> {
        self.require_open()?;
        let filter = project.map(|p| Expr::column_eq("project", Scalar::Str(p.to_string())));
        let request = ScanRequest {
            columns: None,
            filter,
            latest_of: None,
        };
        match self
            .backend()
            .scan(&feature_versions_key(), &request)
            .await?
        {
            None => Ok(Vec::new()),
            Some(batch) => parse_rows(&batch),
        }
    }

    /// Records the definitions of the project's features (requires write mode). Pushing the
    /// same definitions again writes nothing; a changed project version records every feature;
    /// an unchanged one re-records only features whose definition changed.
    pub async fn push_graph(
        &self,
        project: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Result<PushResult> {
        self.require_write()?;
        if tags.contains_key("metaxy") {
            return Err(Error::InvalidArgument(
                "the tag `metaxy` is reserved; choose another tag name".into(),
            ));
        }
        let project = self.project_of(project)?;
        let graph = self.graph();
        if graph.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "No features found for project {project}; nothing to push"
            )));
        }
        let pv = graph.project_version();
        let existing: Vec<PushedFeature> = self.pushed_features(Some(&project)).await?;
        let latest_pv = existing
            .iter()
            .max_by_key(|r| r.recorded_at)
            .map(|r| r.project_version.clone());
        let already_pushed = latest_pv.as_deref() == Some(pv.as_str());
        // latest row per feature key under this project version
        let mut latest: HashMap<&str, &PushedFeature> = HashMap::new();
        for r in existing.iter().filter(|r| r.project_version == pv) {
            match latest.get(r.feature_key.as_str()) {
                Some(prev) if prev.recorded_at >= r.recorded_at => {}
                _ => {
                    latest.insert(r.feature_key.as_str(), r);
                }
            }
        }
        let mut rows: Vec<(String, &FeatureSpec)> = Vec::new();
        let mut updated = Vec::new();
        for key in graph.topological_order() {
            let spec = graph.spec(key)?;
            let dv = graph.definition_version(key)?;
            if already_pushed {
                match latest.get(key.as_str()) {
                    Some(r) if r.definition_version == dv => continue,
                    _ => updated.push(key.to_string()),
                }
            }
            rows.push((dv, spec));
        }
        let n = rows.len();
        if n > 0 {
            let mut tag_map: serde_json::Map<String, serde_json::Value> = tags
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            tag_map.insert(
                "metaxy".into(),
                serde_json::Value::String(format!(
                    "{{\"version\": \"{}\", \"implementation\": \"metaxy-rs\"}}",
                    env!("CARGO_PKG_VERSION")
                )),
            );
            let tags_json = serde_json::Value::Object(tag_map).to_string();
            let col = |f: &dyn Fn(&(String, &FeatureSpec)) -> String| -> ArrayRef {
                Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
            };
            let recorded: Vec<i64> = (0..n).map(|_| transaction_timestamp()).collect();
            let batch = RecordBatch::try_new(
                feature_versions_schema(),
                vec![
                    col(&|_| project.clone()),
                    col(&|(_, s)| s.key.to_string()),
                    col(&|(_, s)| {
                        graph
                            .feature_version(&s.key)
                            .map(str::to_string)
                            .unwrap_or_default()
                    }),
                    col(&|(dv, _)| dv.clone()),
                    Arc::new(TimestampMicrosecondArray::from(recorded)),
                    col(&|(_, s)| s.to_json_string()),
                    col(&|_| crate::graph::RUST_FEATURE_SCHEMA.to_string()),
                    col(&|(_, s)| format!("{RUST_CLASS_PATH_PREFIX}{}", s.key)),
                    col(&|_| pv.clone()),
                    col(&|_| tags_json.clone()),
                    new_null_array(&DataType::Timestamp(TimeUnit::Microsecond, None), n),
                ],
            )?;
            self.backend()
                .append(&feature_versions_key(), batch, true)
                .await?;
        }
        Ok(PushResult {
            project_version: pv,
            already_pushed,
            updated_features: updated,
            rows_written: n,
        })
    }

    /// The pushed project versions of a project, newest first.
    pub async fn history(&self, project: Option<&str>) -> Result<Vec<PushedVersion>> {
        let project = self.project_of(project)?;
        let rows = self.pushed_features(Some(&project)).await?;
        let mut by_version: BTreeMap<String, PushedVersion> = BTreeMap::new();
        for r in rows {
            let e = by_version
                .entry(r.project_version.clone())
                .or_insert(PushedVersion {
                    project_version: r.project_version.clone(),
                    recorded_at: r.recorded_at,
                    feature_count: 0,
                });
            e.recorded_at = e.recorded_at.min(r.recorded_at);
            e.feature_count += 1;
        }
        let mut out: Vec<PushedVersion> = by_version.into_values().collect();
        out.sort_by_key(|v| std::cmp::Reverse(v.recorded_at));
        Ok(out)
    }

    /// The project version of the most recent push of a project, if any (Metaxy's `latest`).
    pub async fn latest_pushed_version(&self, project: Option<&str>) -> Result<Option<String>> {
        let project = self.project_of(project)?;
        Ok(self
            .pushed_features(Some(&project))
            .await?
            .into_iter()
            .max_by_key(|r| r.recorded_at)
            .map(|r| r.project_version))
    }

    /// Rebuilds the feature graph recorded under `project_version` (definitions pushed by
    /// metaxy-rs or by Python Metaxy). The graph uses this store's truncation.
    pub async fn load_graph(
        &self,
        project: Option<&str>,
        project_version: &str,
    ) -> Result<FeatureGraph> {
        let project = self.project_of(project)?;
        let rows = self.pushed_features(Some(&project)).await?;
        let mut latest: BTreeMap<String, PushedFeature> = BTreeMap::new();
        for r in rows
            .into_iter()
            .filter(|r| r.project_version == project_version)
        {
            match latest.get(&r.feature_key) {
                Some(prev) if prev.recorded_at >= r.recorded_at => {}
                _ => {
                    latest.insert(r.feature_key.clone(), r);
                }
            }
        }
        if latest.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "project version {project_version} of project {project} is not recorded in {}; run `metaxy push` first \
                 or pick one from `metaxy history`",
                self.display()
            )));
        }
        let specs = latest
            .values()
            .map(|r| {
                FeatureSpec::from_json_str(&r.feature_spec).map_err(|e| {
                    Error::InvalidArgument(format!(
                        "the pushed definition of `{}` (project version {project_version}) cannot be read: {e}",
                        r.feature_key
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(FeatureGraph::with_truncation(specs, self.graph().truncation())?.with_project(project))
    }

    /// The latest pushed row of `feature` with `feature_version` (any project).
    pub async fn pushed_version_of(
        &self,
        feature: &FeatureKey,
        feature_version: &str,
    ) -> Result<Option<PushedFeature>> {
        let rows = self.pushed_features(None).await?;
        Ok(rows
            .into_iter()
            .filter(|r| r.feature_key == feature.as_str() && r.feature_version == feature_version)
            .max_by_key(|r| r.recorded_at))
    }
}

//! The feature graph: validated definitions, topological order, per-feature plans and the
//! definition-level versions (field, feature, code, spec, definition and project versions).
//!
//! A [`FeatureGraph`] is immutable once built: every check runs in [`FeatureGraph::new`], so
//! an invalid graph never reaches a store, and every version is computed once.

mod diff;
mod plan;
mod topo;
mod validate;
mod versions;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

pub use diff::{FeatureChange, FeatureSummary, FieldChange, FieldSummary, GraphDiff};
pub use plan::{FeaturePlan, ParentField, PlanDep};
pub use versions::RUST_FEATURE_SCHEMA;

use crate::error::{Error, Result};
use crate::hash::DEFAULT_TRUNCATION;
use crate::key::{FeatureKey, FieldKey};
use crate::spec::FeatureSpec;

/// A validated set of feature definitions with their plans and versions.
#[derive(Clone, Debug)]
pub struct FeatureGraph {
    specs: BTreeMap<FeatureKey, FeatureSpec>,
    order: Vec<FeatureKey>,
    plans: HashMap<FeatureKey, FeaturePlan>,
    truncation: Option<usize>,
    project: Option<String>,
    versions: versions::Versions,
}

impl FeatureGraph {
    /// Validates `specs` and builds the graph with Metaxy's default truncation (8).
    ///
    /// Fails on duplicate keys, reserved keys, missing dependencies, cycles, table-name or
    /// struct-key collisions and field dependencies that do not resolve.
    pub fn new(specs: impl IntoIterator<Item = FeatureSpec>) -> Result<Self> {
        Self::with_truncation(specs, Some(DEFAULT_TRUNCATION))
    }

    /// Like [`new`](Self::new) with an explicit `hash_truncation_length` (`None`: full hashes).
    pub fn with_truncation(
        specs: impl IntoIterator<Item = FeatureSpec>,
        truncation: Option<usize>,
    ) -> Result<Self> {
        if let Some(t) = truncation {
            crate::hash::validate_truncation(t)?;
        }
        let mut map = BTreeMap::new();
        for spec in specs {
            spec.validate()?;
            if map.contains_key(&spec.key) {
                return Err(Error::DuplicateFeature {
                    key: spec.key.to_string(),
                });
            }
            map.insert(spec.key.clone(), spec);
        }
        validate::validate_graph(&map)?;
        let order = topo::topological_order(&map, map.keys())?;
        let plans = plan::build_plans(&map)?;
        let versions = versions::Versions::compute(&map, &order, &plans, truncation);
        Ok(FeatureGraph {
            specs: map,
            order,
            plans,
            truncation,
            project: None,
            versions,
        })
    }

    /// Parses a JSON list of specs in Metaxy's form (as in the golden cases) into a graph.
    pub fn from_json(value: &serde_json::Value, truncation: Option<usize>) -> Result<Self> {
        let items = value
            .as_array()
            .ok_or_else(|| Error::spec(None, "a graph must be a JSON list of feature specs"))?;
        let specs = items
            .iter()
            .map(FeatureSpec::from_json)
            .collect::<Result<Vec<_>>>()?;
        Self::with_truncation(specs, truncation)
    }

    /// The specs as a JSON list, in topological order.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.order
                .iter()
                .filter_map(|k| self.specs.get(k))
                .map(FeatureSpec::to_json)
                .collect(),
        )
    }

    /// Sets the project the graph's features belong to (used for the project version).
    pub fn with_project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }

    /// The project, when set.
    pub fn project(&self) -> Option<&str> {
        self.project.as_deref()
    }

    /// The truncation applied to every version string.
    pub fn truncation(&self) -> Option<usize> {
        self.truncation
    }

    /// The spec of `key`.
    pub fn spec(&self, key: &FeatureKey) -> Result<&FeatureSpec> {
        self.specs.get(key).ok_or_else(|| Error::FeatureNotFound {
            key: key.to_string(),
            location: "in the feature graph".into(),
        })
    }

    /// True when `key` is defined.
    pub fn contains(&self, key: &FeatureKey) -> bool {
        self.specs.contains_key(key)
    }

    /// All specs, by key.
    pub fn specs(&self) -> impl Iterator<Item = &FeatureSpec> {
        self.specs.values()
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.specs.len()
    }

    /// True for a graph without features.
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// Every key in topological order (dependencies before dependents), as Metaxy orders them.
    pub fn topological_order(&self) -> &[FeatureKey] {
        &self.order
    }

    /// The given keys in topological order.
    pub fn sort_topologically<'a>(
        &self,
        keys: impl IntoIterator<Item = &'a FeatureKey>,
    ) -> Result<Vec<FeatureKey>> {
        let wanted: Vec<&FeatureKey> = keys.into_iter().collect();
        for k in &wanted {
            self.spec(k)?;
        }
        topo::topological_order(&self.specs, wanted.into_iter())
    }

    /// Every transitive dependent of `sources`, in topological order, excluding the sources.
    pub fn downstream_of(&self, sources: &[FeatureKey]) -> Vec<FeatureKey> {
        let mut hit: std::collections::BTreeSet<FeatureKey> = sources.iter().cloned().collect();
        let mut out = Vec::new();
        for key in &self.order {
            if hit.contains(key) {
                continue;
            }
            if let Some(spec) = self.specs.get(key)
                && spec.deps.iter().any(|d| hit.contains(&d.feature))
            {
                hit.insert(key.clone());
                out.push(key.clone());
            }
        }
        out
    }

    /// The resolved plan of `key`: its deps, the parents of each field, the join columns.
    pub fn plan(&self, key: &FeatureKey) -> Result<&FeaturePlan> {
        self.plans.get(key).ok_or_else(|| Error::FeatureNotFound {
            key: key.to_string(),
            location: "in the feature graph".into(),
        })
    }

    /// The version of one field (`metaxy_provenance_by_field` at the definition level).
    pub fn field_version(&self, feature: &FeatureKey, field: &FieldKey) -> Result<&str> {
        self.versions
            .field(feature, field)
            .ok_or_else(|| Error::FieldNotFound {
                feature: feature.to_string(),
                field: field.to_string(),
            })
    }

    /// The feature version (`metaxy_feature_version`).
    pub fn feature_version(&self, key: &FeatureKey) -> Result<&str> {
        self.versions
            .feature(key)
            .ok_or_else(|| Error::FeatureNotFound {
                key: key.to_string(),
                location: "in the feature graph".into(),
            })
    }

    /// `field key string -> field version` of a feature, in field declaration order.
    pub fn feature_version_by_field(&self, key: &FeatureKey) -> Result<Vec<(String, String)>> {
        let spec = self.spec(key)?;
        spec.fields
            .iter()
            .map(|f| {
                Ok((
                    f.key.to_string(),
                    self.field_version(key, &f.key)?.to_string(),
                ))
            })
            .collect()
    }

    /// The code version of a feature (independent of its dependencies).
    pub fn code_version(&self, key: &FeatureKey) -> Result<String> {
        Ok(versions::code_version(self.spec(key)?, self.truncation))
    }

    /// The spec version (hash of the canonical spec JSON).
    pub fn spec_version(&self, key: &FeatureKey) -> Result<String> {
        Ok(self.spec(key)?.spec_version(self.truncation))
    }

    /// The definition version: spec version plus the feature's schema JSON.
    ///
    /// Python Metaxy hashes a Pydantic JSON schema here, which a Rust definition does not
    /// have; metaxy-rs hashes the empty schema `{}`, so definition and project versions differ
    /// from Python's while feature and field versions are identical.
    pub fn definition_version(&self, key: &FeatureKey) -> Result<String> {
        Ok(versions::definition_version(
            self.spec(key)?,
            self.truncation,
        ))
    }

    /// The project version: hash of every feature's key and definition version, or `"empty"`.
    pub fn project_version(&self) -> String {
        versions::project_version(&self.specs, self.truncation)
    }
}

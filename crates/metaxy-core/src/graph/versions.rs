//! Definition-level versions (reference section 2), all SHA-256 over concatenated UTF-8
//! pieces without separators, truncated.

use std::collections::{BTreeMap, HashMap};

use super::plan::FeaturePlan;
use crate::hash::DefinitionHasher;
use crate::key::{FeatureKey, FieldKey};
use crate::spec::FeatureSpec;

/// Field and feature versions of every feature, computed once per graph.
#[derive(Clone, Debug, Default)]
pub(super) struct Versions {
    fields: HashMap<FeatureKey, Vec<(FieldKey, String)>>,
    features: HashMap<FeatureKey, String>,
}

impl Versions {
    pub(super) fn compute(
        specs: &BTreeMap<FeatureKey, FeatureSpec>,
        order: &[FeatureKey],
        plans: &HashMap<FeatureKey, FeaturePlan>,
        truncation: Option<usize>,
    ) -> Self {
        let mut v = Versions::default();
        for key in order {
            let (Some(spec), Some(plan)) = (specs.get(key), plans.get(key)) else {
                continue;
            };
            let mut field_versions = Vec::with_capacity(spec.fields.len());
            for (field, parents) in spec.fields.iter().zip(&plan.field_parents) {
                let mut h = DefinitionHasher::new();
                h.update(&format!("{}.{}", key, field.key));
                h.update(&field.code_version);
                // parents are sorted by their "<feature>.<field>" string
                for p in parents {
                    if let Some(pv) = v.field(&p.key.feature, &p.key.field) {
                        h.update(pv);
                    }
                }
                field_versions.push((field.key.clone(), h.finish(truncation)));
            }
            let mut sorted: Vec<&(FieldKey, String)> = field_versions.iter().collect();
            sorted.sort_by_key(|(k, _)| k.to_string());
            let mut h = DefinitionHasher::new();
            for (k, fv) in sorted {
                h.update(&k.to_string());
                h.update(fv);
            }
            v.features.insert(key.clone(), h.finish(truncation));
            v.fields.insert(key.clone(), field_versions);
        }
        v
    }

    pub(super) fn field(&self, feature: &FeatureKey, field: &FieldKey) -> Option<&str> {
        self.fields
            .get(feature)?
            .iter()
            .find(|(k, _)| k == field)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn feature(&self, key: &FeatureKey) -> Option<&str> {
        self.features.get(key).map(String::as_str)
    }
}

/// sha256 over fields sorted by key string: `key || code_version`.
pub(super) fn code_version(spec: &FeatureSpec, truncation: Option<usize>) -> String {
    let mut fields: Vec<(String, &str)> = spec
        .fields
        .iter()
        .map(|f| (f.key.to_string(), f.code_version.as_str()))
        .collect();
    fields.sort();
    let mut h = DefinitionHasher::new();
    for (k, cv) in fields {
        h.update(&k).update(cv);
    }
    h.finish(truncation)
}

/// The JSON schema metaxy-rs records for a feature definition (Python records Pydantic's).
pub const RUST_FEATURE_SCHEMA: &str = "{}";

/// sha256 of the (truncated) spec version followed by the schema JSON.
pub(super) fn definition_version(spec: &FeatureSpec, truncation: Option<usize>) -> String {
    let mut h = DefinitionHasher::new();
    h.update(&spec.spec_version(truncation))
        .update(RUST_FEATURE_SCHEMA);
    h.finish(truncation)
}

/// sha256 over features sorted by key: `key || definition_version`; `"empty"` without features.
pub(super) fn project_version(
    specs: &BTreeMap<FeatureKey, FeatureSpec>,
    truncation: Option<usize>,
) -> String {
    if specs.is_empty() {
        return "empty".to_string();
    }
    let mut h = DefinitionHasher::new();
    // BTreeMap iterates in key (part tuple) order, as Metaxy sorts.
    for (key, spec) in specs {
        h.update(&key.to_string())
            .update(&definition_version(spec, truncation));
    }
    h.finish(truncation)
}

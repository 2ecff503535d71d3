//! Graph diff: what changed between two versions of a feature graph (reference 7.3).

use std::collections::BTreeSet;

use serde::Serialize;

use super::FeatureGraph;
use crate::key::FeatureKey;

/// A field of a feature in a diff.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldSummary {
    /// The field key.
    pub key: String,
    /// Its field version.
    pub version: String,
    /// Its code version.
    pub code_version: String,
}

/// A feature that exists on one side only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FeatureSummary {
    /// The feature key.
    pub key: String,
    /// Its feature version.
    pub version: String,
    /// Its fields.
    pub fields: Vec<FieldSummary>,
    /// Its upstream feature keys.
    pub dependencies: Vec<String>,
}

/// How one field changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// The field key.
    pub field_key: String,
    /// Its version before (`None`: added).
    pub old_version: Option<String>,
    /// Its version after (`None`: removed).
    pub new_version: Option<String>,
    /// Only on the new side.
    pub is_added: bool,
    /// Only on the old side.
    pub is_removed: bool,
    /// On both sides with different versions.
    pub is_changed: bool,
}

/// A feature on both sides whose definition changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FeatureChange {
    /// The feature key.
    pub key: String,
    /// Feature version before.
    pub old_version: String,
    /// Feature version after.
    pub new_version: String,
    /// Field-level changes (empty when only metadata or the description changed).
    pub field_changes: Vec<FieldChange>,
    /// Upstream feature keys after the change.
    pub dependencies: Vec<String>,
}

/// The difference between two graphs: features added, removed and changed (a feature is
/// changed when its definition changed, even if only its metadata or description did).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GraphDiff {
    /// Features only in the new graph.
    pub added: Vec<FeatureSummary>,
    /// Features only in the old graph.
    pub removed: Vec<FeatureSummary>,
    /// Features in both whose definition differs.
    pub changed: Vec<FeatureChange>,
    /// Features in both with identical definitions.
    pub unchanged: Vec<String>,
}

fn summary(g: &FeatureGraph, key: &FeatureKey) -> FeatureSummary {
    let spec = g.spec(key).ok();
    FeatureSummary {
        key: key.to_string(),
        version: g
            .feature_version(key)
            .map(str::to_string)
            .unwrap_or_default(),
        fields: spec
            .map(|s| {
                s.fields
                    .iter()
                    .map(|f| FieldSummary {
                        key: f.key.to_string(),
                        version: g
                            .field_version(key, &f.key)
                            .map(str::to_string)
                            .unwrap_or_default(),
                        code_version: f.code_version.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        dependencies: spec
            .map(|s| s.deps.iter().map(|d| d.feature.to_string()).collect())
            .unwrap_or_default(),
    }
}

impl GraphDiff {
    /// Compares `old` with `new`.
    pub fn between(old: &FeatureGraph, new: &FeatureGraph) -> Self {
        let old_keys: BTreeSet<&FeatureKey> = old.topological_order().iter().collect();
        let new_keys: BTreeSet<&FeatureKey> = new.topological_order().iter().collect();
        let mut diff = GraphDiff::default();
        for k in new_keys.difference(&old_keys) {
            diff.added.push(summary(new, k));
        }
        for k in old_keys.difference(&new_keys) {
            diff.removed.push(summary(old, k));
        }
        for k in old_keys.intersection(&new_keys) {
            let (o, n) = (summary(old, k), summary(new, k));
            let same_definition = old.definition_version(k).ok() == new.definition_version(k).ok();
            if same_definition && o.version == n.version {
                diff.unchanged.push(k.to_string());
                continue;
            }
            let mut field_keys: Vec<&String> =
                o.fields.iter().chain(&n.fields).map(|f| &f.key).collect();
            field_keys.sort();
            field_keys.dedup();
            let field_changes = field_keys
                .into_iter()
                .filter_map(|fk| {
                    let before = o
                        .fields
                        .iter()
                        .find(|f| &f.key == fk)
                        .map(|f| f.version.clone());
                    let after = n
                        .fields
                        .iter()
                        .find(|f| &f.key == fk)
                        .map(|f| f.version.clone());
                    (before != after).then(|| FieldChange {
                        field_key: fk.clone(),
                        is_added: before.is_none(),
                        is_removed: after.is_none(),
                        is_changed: before.is_some() && after.is_some(),
                        old_version: before,
                        new_version: after,
                    })
                })
                .collect();
            diff.changed.push(FeatureChange {
                key: k.to_string(),
                old_version: o.version,
                new_version: n.version,
                field_changes,
                dependencies: n.dependencies,
            });
        }
        diff
    }

    /// True when nothing was added, removed or changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(audio_cv: &str, with_stt: bool, description: Option<&str>) -> FeatureGraph {
        let mut specs = vec![
            serde_json::json!({"key": "example/video", "id_columns": ["id"], "fields": [
                {"key": "audio", "code_version": audio_cv}, {"key": "frames", "code_version": "1"}],
                "description": description}),
            serde_json::json!({"key": "example/faces", "id_columns": ["id"], "deps": [{"feature": "example/video"}],
                "fields": [{"key": "faces", "deps": [{"feature": "example/video", "fields": ["frames"]}]}]}),
        ];
        if with_stt {
            specs.push(serde_json::json!({"key": "example/stt", "id_columns": ["id"], "deps": [{"feature": "example/video"}],
                "fields": [{"key": "text", "deps": [{"feature": "example/video", "fields": ["audio"]}]}]}));
        }
        FeatureGraph::from_json(&serde_json::Value::Array(specs), Some(8)).unwrap()
    }

    #[test]
    fn added_removed_changed_with_field_changes() {
        let old = graph("1", true, None);
        let new = graph("2", false, None);
        let d = GraphDiff::between(&old, &new);
        assert_eq!(
            d.removed.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(),
            vec!["example/stt"]
        );
        assert!(d.added.is_empty());
        assert_eq!(d.changed.len(), 1, "{d:?}");
        let video = &d.changed[0];
        assert_eq!(video.key, "example/video");
        assert_eq!(video.field_changes.len(), 1);
        assert_eq!(video.field_changes[0].field_key, "audio");
        assert!(video.field_changes[0].is_changed);
        assert_eq!(
            d.unchanged,
            vec!["example/faces".to_string()],
            "frames-only features do not change"
        );
        let back = GraphDiff::between(&new, &old);
        assert_eq!(back.added.len(), 1);
        assert!(GraphDiff::between(&old, &old).is_empty());
    }

    #[test]
    fn description_only_changes_are_reported_without_field_changes() {
        let d = GraphDiff::between(&graph("1", false, None), &graph("1", false, Some("videos")));
        assert_eq!(d.changed.len(), 1);
        assert!(d.changed[0].field_changes.is_empty());
        assert_eq!(d.changed[0].old_version, d.changed[0].new_version);
    }
}

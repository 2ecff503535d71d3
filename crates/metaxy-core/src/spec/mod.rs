//! Feature definitions: [`FeatureSpec`], [`FieldSpec`], [`FeatureDep`], field mappings and
//! lineage, with serde in Metaxy's spec JSON form and a builder API for Rust users.
//!
//! The JSON form is the one Metaxy stores in `metaxy_system__feature_versions.feature_spec`
//! and the one the golden cases use, so a graph pushed by Python Metaxy parses here and a spec
//! written here hashes to the same versions in Python.

mod builder;
mod json;

use std::collections::BTreeSet;

pub use builder::{Dep, FeatureSpecBuilder, Field};

use crate::columns;
use crate::error::{Error, Result};
use crate::key::{FeatureKey, FieldKey};

/// The code version a field has unless it declares one.
pub const DEFAULT_CODE_VERSION: &str = "__metaxy_initial__";

/// The JSON marker Metaxy uses for "all fields" / "all upstream fields".
pub const ALL_DEP_MARKER: &str = "__METAXY_ALL_DEP__";

/// The declarative definition of a feature: its key, id columns, dependencies and fields.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureSpec {
    /// The feature's key; also names its table.
    pub key: FeatureKey,
    /// Metadata columns that identify a sample (non-empty).
    pub id_columns: Vec<String>,
    /// Upstream features, in declaration order (the order matters for joins).
    pub deps: Vec<FeatureDep>,
    /// The logical fields of the feature, each versioned separately.
    pub fields: Vec<FieldSpec>,
    /// Free-form metadata; changes the spec version but not the feature version.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Human description.
    pub description: Option<String>,
}

/// A logical field of a feature (e.g. `audio`), with its code version and dependencies.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldSpec {
    /// The field's key.
    pub key: FieldKey,
    /// Bump this when the code producing the field changes: it changes the field's version and
    /// the version of every field downstream of it.
    pub code_version: String,
    /// Which upstream fields this field depends on.
    pub deps: FieldDeps,
}

/// How a field's upstream fields are chosen.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum FieldDeps {
    /// Resolve automatically with each dependency's [`FieldsMapping`] (JSON `[]`).
    #[default]
    Auto,
    /// Every field of every upstream feature (JSON `"__METAXY_ALL_DEP__"`).
    All,
    /// Exactly these upstream fields; automatic mapping is not applied (a non-empty JSON list).
    Explicit(Vec<FieldDep>),
}

/// An explicit dependency of a field on fields of one upstream feature.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldDep {
    /// The upstream feature.
    pub feature: FeatureKey,
    /// Which of its fields.
    pub fields: FieldSelection,
}

/// A selection of fields of one feature.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldSelection {
    /// Every field.
    All,
    /// These fields.
    Keys(Vec<FieldKey>),
}

/// A dependency of a feature on an upstream feature.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureDep {
    /// The upstream feature.
    pub feature: FeatureKey,
    /// Post-rename columns to keep from the upstream (`None` keeps all; an empty list keeps
    /// only the id, lineage and versioning columns).
    pub select: Option<Vec<String>>,
    /// Column renames `old -> new`, applied before filters and select.
    pub rename: Option<Vec<(String, String)>>,
    /// How fields of this feature map automatically onto the upstream's fields.
    pub fields_mapping: FieldsMapping,
    /// SQL predicates on the (renamed) upstream rows; only matching rows take part
    /// (`sql_filters` in the JSON form).
    pub filters: Option<Vec<String>>,
    /// Cardinality between upstream and downstream samples.
    pub lineage: Lineage,
    /// Whether a downstream sample may exist without a matching upstream sample.
    pub optional: bool,
}

/// Automatic field-dependency resolution rule of a [`FeatureDep`].
#[derive(Clone, Debug, PartialEq)]
pub enum FieldsMapping {
    /// Same-named upstream fields (optionally by suffix); if none, every non-excluded field.
    Default {
        /// Also match upstream fields whose key ends with the downstream key.
        match_suffix: bool,
        /// Upstream fields never mapped.
        exclude_fields: Vec<FieldKey>,
    },
    /// An explicit table `downstream field -> upstream fields`.
    Specific {
        /// The mapping, in declaration order.
        mapping: Vec<(FieldKey, Vec<FieldKey>)>,
    },
    /// Every upstream field.
    All,
    /// No upstream field.
    None,
}

impl Default for FieldsMapping {
    fn default() -> Self {
        FieldsMapping::Default {
            match_suffix: false,
            exclude_fields: Vec::new(),
        }
    }
}

/// The cardinality of a dependency.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Lineage {
    /// One upstream row per downstream row (`1:1`).
    #[default]
    Identity,
    /// Many upstream rows per downstream row (`N:1`), grouped by `on` (default: the downstream
    /// feature's id columns).
    Aggregation {
        /// Group columns (post-rename upstream columns).
        on: Option<Vec<String>>,
    },
    /// One upstream row per many downstream rows (`1:N`); `on` are the parent key columns.
    Expansion {
        /// Parent key columns.
        on: Vec<String>,
        /// Reserved by Metaxy (kept for round trips).
        id_generation_pattern: Option<String>,
    },
}

impl Lineage {
    /// True for `1:N`.
    pub fn is_expansion(&self) -> bool {
        matches!(self, Lineage::Expansion { .. })
    }

    /// True for `N:1`.
    pub fn is_aggregation(&self) -> bool {
        matches!(self, Lineage::Aggregation { .. })
    }
}

impl FieldSpec {
    /// A field with the default code version and automatic dependencies.
    pub fn new(key: FieldKey) -> Self {
        FieldSpec {
            key,
            code_version: DEFAULT_CODE_VERSION.to_string(),
            deps: FieldDeps::Auto,
        }
    }
}

impl FeatureDep {
    /// A plain 1:1 dependency on `feature` with every option at its default.
    pub fn new(feature: FeatureKey) -> Self {
        FeatureDep {
            feature,
            select: None,
            rename: None,
            fields_mapping: FieldsMapping::default(),
            filters: None,
            lineage: Lineage::Identity,
            optional: false,
        }
    }

    /// The post-rename name of an upstream column.
    pub fn renamed<'a>(&'a self, column: &'a str) -> &'a str {
        self.rename
            .as_ref()
            .and_then(|r| r.iter().find(|(old, _)| old == column))
            .map(|(_, new)| new.as_str())
            .unwrap_or(column)
    }
}

impl FieldsMapping {
    /// Resolves the upstream fields a downstream field `key` maps to (reference 1.7).
    pub fn resolve(&self, key: &FieldKey, upstream: &[FieldKey]) -> Vec<FieldKey> {
        match self {
            FieldsMapping::Default {
                match_suffix,
                exclude_fields,
            } => {
                let candidates: Vec<&FieldKey> = upstream
                    .iter()
                    .filter(|u| !exclude_fields.contains(u))
                    .collect();
                let matched: Vec<FieldKey> = candidates
                    .iter()
                    .filter(|u| **u == key || (*match_suffix && is_suffix(key, u)))
                    .map(|u| (*u).clone())
                    .collect();
                if matched.is_empty() {
                    candidates.into_iter().cloned().collect()
                } else {
                    matched
                }
            }
            FieldsMapping::Specific { mapping } => mapping
                .iter()
                .find(|(down, _)| down == key)
                .map(|(_, ups)| {
                    ups.iter()
                        .filter(|u| upstream.contains(u))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default(),
            FieldsMapping::All => upstream.to_vec(),
            FieldsMapping::None => Vec::new(),
        }
    }
}

fn is_suffix(key: &FieldKey, upstream: &FieldKey) -> bool {
    let k = key.parts();
    let u = upstream.parts();
    if k.len() == 1 && u.len() > 1 {
        u.last() == k.first()
    } else if k.len() <= u.len() {
        u[u.len() - k.len()..] == *k
    } else {
        false
    }
}

impl FeatureSpec {
    /// Starts a builder for a feature with this key (validated at `build`).
    pub fn builder(key: impl Into<String>) -> FeatureSpecBuilder {
        FeatureSpecBuilder::new(key.into())
    }

    /// The feature's table name in every store.
    pub fn table_name(&self) -> String {
        self.key.table_name()
    }

    /// The field with this key, if declared.
    pub fn field(&self, key: &FieldKey) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| &f.key == key)
    }

    /// The declared field keys in declaration order.
    pub fn field_keys(&self) -> Vec<FieldKey> {
        self.fields.iter().map(|f| f.key.clone()).collect()
    }

    /// Struct keys of the fields, sorted ascending: the order sample hashes use.
    pub fn sorted_struct_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.fields.iter().map(|f| f.key.to_struct_key()).collect();
        keys.sort();
        keys
    }

    /// The dependency on `feature`, if declared.
    pub fn dep(&self, feature: &FeatureKey) -> Option<&FeatureDep> {
        self.deps.iter().find(|d| &d.feature == feature)
    }

    /// True when the feature has no dependencies.
    pub fn is_root(&self) -> bool {
        self.deps.is_empty()
    }

    /// Checks what can be checked on the spec alone (the graph checks the rest).
    pub fn validate(&self) -> Result<()> {
        let err = |message: String| Err(Error::spec(Some(&self.key), message));
        if self.id_columns.is_empty() {
            return err(
                "id_columns must be non-empty: name the column(s) that identify a sample".into(),
            );
        }
        let mut seen = BTreeSet::new();
        for c in &self.id_columns {
            if c.is_empty() {
                return err("id column names must not be empty".into());
            }
            if !seen.insert(c) {
                return err(format!("id column `{c}` is listed twice"));
            }
            if columns::is_system_column(c) {
                return err(format!("id column `{c}` is a metaxy system column name"));
            }
        }
        if self.fields.is_empty() {
            return err("a feature needs at least one field (the default is `default`)".into());
        }
        let mut keys = BTreeSet::new();
        let mut struct_keys = BTreeSet::new();
        for f in &self.fields {
            if !keys.insert(&f.key) {
                return err(format!("Duplicate field key found: `{}`", f.key));
            }
            let sk = f.key.to_struct_key();
            if !struct_keys.insert(sk.clone()) {
                return Err(Error::NameCollision {
                    message: format!(
                        "two fields of `{}` map to the struct key `{sk}` (field `{}` and another); \
                         rename one of them",
                        self.key, f.key
                    ),
                });
            }
        }
        let mut dep_keys = BTreeSet::new();
        for d in &self.deps {
            if !dep_keys.insert(&d.feature) {
                return err(format!(
                    "the dependency on `{}` is declared twice",
                    d.feature
                ));
            }
            validate_dep(self, d)?;
        }
        Ok(())
    }
}

fn validate_dep(spec: &FeatureSpec, dep: &FeatureDep) -> Result<()> {
    let err = |message: String| {
        Err(Error::spec(
            Some(&spec.key),
            format!("dependency on `{}`: {message}", dep.feature),
        ))
    };
    if dep.feature == spec.key {
        return err("a feature cannot depend on itself".into());
    }
    if let Some(rename) = &dep.rename {
        let mut targets = BTreeSet::new();
        for (old, new) in rename {
            if new.is_empty() || old.is_empty() {
                return err("rename entries must not be empty".into());
            }
            if columns::is_system_column(new) {
                return err(format!(
                    "cannot rename `{old}` to the system column name `{new}`"
                ));
            }
            if !targets.insert(new) {
                return err(format!("two columns are renamed to `{new}`"));
            }
        }
        if let Some(select) = &dep.select {
            let olds: BTreeSet<&String> = rename.iter().map(|(o, _)| o).collect();
            let news: BTreeSet<&String> = rename.iter().map(|(_, n)| n).collect();
            let bad: Vec<&String> = select
                .iter()
                .filter(|c| olds.contains(c) && !news.contains(c))
                .collect();
            if !bad.is_empty() {
                return err(format!(
                    "select contains pre-rename column name(s) {bad:?}. Use post-rename names in select"
                ));
            }
        }
    }
    match &dep.lineage {
        Lineage::Expansion { on, .. } if on.is_empty() => {
            return err("a 1:N lineage needs `on` (the parent key columns)".into());
        }
        Lineage::Aggregation { on: Some(on) } if on.is_empty() => {
            return err(
                "an N:1 lineage with `on` needs at least one column (or `on: null`)".into(),
            );
        }
        _ => {}
    }
    if let Some(filters) = &dep.filters {
        for f in filters {
            crate::filter::Expr::parse(f).map_err(|e| {
                Error::spec(
                    Some(&spec.key),
                    format!("dependency on `{}`: {e}", dep.feature),
                )
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fk(s: &str) -> FieldKey {
        FieldKey::new(s).unwrap()
    }

    #[test]
    fn default_mapping_matches_names_then_falls_back_to_all() {
        let up = vec![fk("audio"), fk("frames")];
        let m = FieldsMapping::default();
        assert_eq!(m.resolve(&fk("audio"), &up), vec![fk("audio")]);
        assert_eq!(m.resolve(&fk("text"), &up), up);
        let ex = FieldsMapping::Default {
            match_suffix: false,
            exclude_fields: vec![fk("frames")],
        };
        assert_eq!(ex.resolve(&fk("text"), &up), vec![fk("audio")]);
    }

    #[test]
    fn suffix_matching() {
        let up = vec![fk("audio/french"), fk("audio/english"), fk("video")];
        let m = FieldsMapping::Default {
            match_suffix: true,
            exclude_fields: vec![],
        };
        assert_eq!(m.resolve(&fk("french"), &up), vec![fk("audio/french")]);
        assert_eq!(
            m.resolve(&fk("audio/english"), &up),
            vec![fk("audio/english")]
        );
        assert_eq!(m.resolve(&fk("x/y/z"), &up), up);
    }

    #[test]
    fn specific_all_none() {
        let up = vec![fk("a"), fk("b")];
        let s = FieldsMapping::Specific {
            mapping: vec![(fk("x"), vec![fk("b"), fk("missing")])],
        };
        assert_eq!(s.resolve(&fk("x"), &up), vec![fk("b")]);
        assert!(s.resolve(&fk("y"), &up).is_empty());
        assert_eq!(FieldsMapping::All.resolve(&fk("q"), &up), up);
        assert!(FieldsMapping::None.resolve(&fk("a"), &up).is_empty());
    }
}

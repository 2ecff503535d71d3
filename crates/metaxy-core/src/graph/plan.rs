//! Per-feature plans: each dependency with its id and join columns, and the resolved parent
//! fields of every field (reference 1.7 and 1.11).

use std::collections::{BTreeMap, HashMap};

use crate::error::{Error, Result};
use crate::key::{FeatureKey, FieldKey, FqFieldKey};
use crate::spec::{FeatureDep, FeatureSpec, FieldDeps, FieldSelection, Lineage};

/// What the engine needs to know about one dependency of a feature.
#[derive(Clone, Debug)]
pub struct PlanDep {
    /// The dependency as declared.
    pub dep: FeatureDep,
    /// The upstream's id columns, before rename.
    pub upstream_id_columns: Vec<String>,
    /// The upstream's id columns after this dependency's rename.
    pub renamed_id_columns: Vec<String>,
    /// The columns this dependency joins on (by lineage: renamed ids, `on`, or the downstream
    /// id columns).
    pub input_id_columns: Vec<String>,
    /// The upstream's fields in declaration order.
    pub upstream_fields: Vec<FieldKey>,
    /// Suffix of the upstream's renamed versioning columns (`metaxy_..._by_field__<suffix>`).
    pub suffix: String,
}

/// One parent of a downstream field: an upstream field reached through a dependency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentField {
    /// Index of the dependency in [`FeaturePlan::deps`].
    pub dep_index: usize,
    /// The parent as a fully-qualified key.
    pub key: FqFieldKey,
    /// `"<feature>.<field>"`, the component written into the provenance preimage.
    pub fq_string: String,
    /// The parent field's struct key inside the upstream's `*_by_field` column.
    pub struct_key: String,
}

/// The resolved plan of one feature.
#[derive(Clone, Debug)]
pub struct FeaturePlan {
    /// The feature.
    pub key: FeatureKey,
    /// Its dependencies in declaration order.
    pub deps: Vec<PlanDep>,
    /// For each field of the spec (declaration order), its parents sorted by `fq_string`.
    pub field_parents: Vec<Vec<ParentField>>,
    /// Columns upstream frames are joined on and expected/current are compared on.
    pub join_columns: Vec<String>,
}

impl FeaturePlan {
    /// True when some dependency is 1:N (current rows are collapsed per parent).
    pub fn has_expansion(&self) -> bool {
        self.deps.iter().any(|d| d.dep.lineage.is_expansion())
    }
}

pub(super) fn build_plans(
    specs: &BTreeMap<FeatureKey, FeatureSpec>,
) -> Result<HashMap<FeatureKey, FeaturePlan>> {
    specs
        .values()
        .map(|spec| Ok((spec.key.clone(), build_plan(spec, specs)?)))
        .collect()
}

fn build_plan(
    spec: &FeatureSpec,
    specs: &BTreeMap<FeatureKey, FeatureSpec>,
) -> Result<FeaturePlan> {
    let mut deps = Vec::with_capacity(spec.deps.len());
    for dep in &spec.deps {
        let upstream = specs
            .get(&dep.feature)
            .ok_or_else(|| Error::MissingDependency {
                feature: spec.key.to_string(),
                dependency: dep.feature.to_string(),
            })?;
        let renamed_id_columns: Vec<String> = upstream
            .id_columns
            .iter()
            .map(|c| dep.renamed(c).to_string())
            .collect();
        let input_id_columns = match &dep.lineage {
            Lineage::Identity => renamed_id_columns.clone(),
            Lineage::Aggregation { on: Some(on) } => on.clone(),
            Lineage::Aggregation { on: None } => spec.id_columns.clone(),
            Lineage::Expansion { on, .. } => on.clone(),
        };
        deps.push(PlanDep {
            dep: dep.clone(),
            upstream_id_columns: upstream.id_columns.clone(),
            renamed_id_columns,
            input_id_columns,
            upstream_fields: upstream.field_keys(),
            suffix: dep.feature.column_suffix(),
        });
    }
    let join_columns = join_columns(spec, &deps);
    let field_parents = spec
        .fields
        .iter()
        .map(|f| resolve_parents(spec, &f.key, &f.deps, &deps))
        .collect::<Result<Vec<_>>>()?;
    Ok(FeaturePlan {
        key: spec.key.clone(),
        deps,
        field_parents,
        join_columns,
    })
}

/// The intersection of the dependencies' input id columns (ordered as in the first dependency),
/// or the feature's own id columns when that is empty.
fn join_columns(spec: &FeatureSpec, deps: &[PlanDep]) -> Vec<String> {
    let sets: Vec<&Vec<String>> = deps
        .iter()
        .map(|d| &d.input_id_columns)
        .filter(|c| !c.is_empty())
        .collect();
    let Some(first) = sets.first() else {
        return spec.id_columns.clone();
    };
    let common: Vec<String> = first
        .iter()
        .filter(|c| sets.iter().all(|s| s.contains(c)))
        .cloned()
        .collect();
    if common.is_empty() {
        spec.id_columns.clone()
    } else {
        common
    }
}

fn resolve_parents(
    spec: &FeatureSpec,
    field: &FieldKey,
    field_deps: &FieldDeps,
    deps: &[PlanDep],
) -> Result<Vec<ParentField>> {
    if deps.is_empty() {
        return Ok(Vec::new());
    }
    let err = |message: String| Error::FieldMapping {
        feature: spec.key.to_string(),
        field: field.to_string(),
        message,
    };
    let mut parents: Vec<(usize, FieldKey)> = Vec::new();
    match field_deps {
        FieldDeps::All => {
            for (i, d) in deps.iter().enumerate() {
                parents.extend(d.upstream_fields.iter().map(|f| (i, f.clone())));
            }
        }
        FieldDeps::Explicit(list) => {
            for fd in list {
                let Some(i) = deps.iter().position(|d| d.dep.feature == fd.feature) else {
                    return Err(err(format!(
                        "it depends on `{}`, which is not a dependency of `{}`; add the feature to \
                         `deps` or remove the field dependency",
                        fd.feature, spec.key
                    )));
                };
                match &fd.fields {
                    FieldSelection::All => {
                        parents.extend(deps[i].upstream_fields.iter().map(|f| (i, f.clone())))
                    }
                    FieldSelection::Keys(keys) => {
                        for k in keys {
                            if !deps[i].upstream_fields.contains(k) {
                                return Err(err(format!(
                                    "it depends on field `{k}` of `{}`, which has no such field (it has: {})",
                                    fd.feature,
                                    deps[i]
                                        .upstream_fields
                                        .iter()
                                        .map(|f| f.to_string())
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )));
                            }
                            parents.push((i, k.clone()));
                        }
                    }
                }
            }
        }
        FieldDeps::Auto => {
            for (i, d) in deps.iter().enumerate() {
                let selected = d.dep.fields_mapping.resolve(field, &d.upstream_fields);
                parents.extend(selected.into_iter().map(|f| (i, f)));
            }
            if parents.is_empty() {
                return Err(err(
                    "No upstream fields found for this field: every dependency's fields mapping \
                     resolves to nothing; declare explicit field deps or change a fields mapping"
                        .into(),
                ));
            }
        }
    }
    let mut out: Vec<ParentField> = parents
        .into_iter()
        .map(|(i, f)| {
            let key = FqFieldKey::new(deps[i].dep.feature.clone(), f);
            ParentField {
                dep_index: i,
                fq_string: key.to_string(),
                struct_key: key.field.to_struct_key(),
                key,
            }
        })
        .collect();
    out.sort_by(|a, b| a.fq_string.cmp(&b.fq_string));
    out.dedup_by(|a, b| a.fq_string == b.fq_string);
    Ok(out)
}

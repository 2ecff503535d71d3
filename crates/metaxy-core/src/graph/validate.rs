//! Graph-level checks that need more than one spec: reserved keys, missing dependencies,
//! table-name collisions and column conflicts between dependencies.

use std::collections::{BTreeMap, HashMap};

use crate::columns;
use crate::error::{Error, Result};
use crate::key::FeatureKey;
use crate::spec::{FeatureSpec, Lineage};

pub(super) fn validate_graph(specs: &BTreeMap<FeatureKey, FeatureSpec>) -> Result<()> {
    let mut tables: HashMap<String, &FeatureKey> = HashMap::new();
    for (key, spec) in specs {
        if key.is_system() {
            return Err(Error::ReservedKey {
                key: key.to_string(),
            });
        }
        if let Some(other) = tables.insert(key.table_name(), key) {
            return Err(Error::NameCollision {
                message: format!(
                    "features `{other}` and `{key}` both map to the table `{}`; rename one of them",
                    key.table_name()
                ),
            });
        }
        for dep in &spec.deps {
            let Some(upstream) = specs.get(&dep.feature) else {
                return Err(Error::MissingDependency {
                    feature: key.to_string(),
                    dependency: dep.feature.to_string(),
                });
            };
            if let Some(rename) = &dep.rename {
                for (old, new) in rename {
                    if upstream.id_columns.contains(new) && old != new {
                        return Err(Error::spec(
                            Some(key),
                            format!(
                                "dependency on `{}`: cannot rename `{old}` to `{new}`, which is an id \
                                 column of `{}`",
                                dep.feature, dep.feature
                            ),
                        ));
                    }
                }
            }
        }
        check_selected_column_conflicts(key, spec, specs)?;
    }
    Ok(())
}

/// Across dependencies with `select`, a user column may come from at most one of them unless it
/// is an id column (reference 1.10, static validation).
fn check_selected_column_conflicts(
    key: &FeatureKey,
    spec: &FeatureSpec,
    specs: &BTreeMap<FeatureKey, FeatureSpec>,
) -> Result<()> {
    let mut id_like: Vec<String> = Vec::new();
    for dep in &spec.deps {
        if let Some(up) = specs.get(&dep.feature) {
            id_like.extend(up.id_columns.iter().map(|c| dep.renamed(c).to_string()));
        }
        match &dep.lineage {
            Lineage::Aggregation { on: Some(on) } | Lineage::Expansion { on, .. } => {
                id_like.extend(on.iter().cloned())
            }
            Lineage::Aggregation { on: None } => id_like.extend(spec.id_columns.iter().cloned()),
            Lineage::Identity => {}
        }
    }
    let mut owner: HashMap<&str, &FeatureKey> = HashMap::new();
    for dep in &spec.deps {
        let Some(select) = &dep.select else { continue };
        for col in select {
            if columns::is_system_column(col) || id_like.contains(col) {
                continue;
            }
            if let Some(first) = owner.insert(col, &dep.feature)
                && first != &dep.feature
            {
                return Err(Error::spec(
                    Some(key),
                    format!(
                        "column `{col}` is selected from both `{first}` and `{}`; select it from one \
                         dependency or rename one of them",
                        dep.feature
                    ),
                ));
            }
        }
    }
    Ok(())
}

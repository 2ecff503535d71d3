//! Topological order as Metaxy computes it: DFS post-order, roots and dependencies visited in
//! order of their lowercased key string.

use std::collections::{BTreeMap, HashSet};

use crate::error::{Error, Result};
use crate::key::FeatureKey;
use crate::spec::FeatureSpec;

/// Orders `wanted` so that dependencies come before dependents; reports a cycle as an error.
pub(super) fn topological_order<'a>(
    specs: &BTreeMap<FeatureKey, FeatureSpec>,
    wanted: impl Iterator<Item = &'a FeatureKey>,
) -> Result<Vec<FeatureKey>> {
    let wanted: HashSet<&FeatureKey> = wanted.collect();
    let mut roots: Vec<&FeatureKey> = wanted.iter().copied().collect();
    roots.sort_by_key(|k| k.to_string().to_lowercase());
    let mut done: HashSet<&FeatureKey> = HashSet::new();
    let mut path: Vec<&FeatureKey> = Vec::new();
    let mut out = Vec::new();
    for root in roots {
        visit(specs, root, &wanted, &mut done, &mut path, &mut out)?;
    }
    Ok(out)
}

fn visit<'a>(
    specs: &'a BTreeMap<FeatureKey, FeatureSpec>,
    key: &'a FeatureKey,
    wanted: &HashSet<&FeatureKey>,
    done: &mut HashSet<&'a FeatureKey>,
    path: &mut Vec<&'a FeatureKey>,
    out: &mut Vec<FeatureKey>,
) -> Result<()> {
    if done.contains(key) {
        return Ok(());
    }
    if let Some(pos) = path.iter().position(|k| *k == key) {
        let mut cycle: Vec<String> = path[pos..].iter().map(|k| k.to_string()).collect();
        cycle.push(key.to_string());
        return Err(Error::CyclicGraph { cycle });
    }
    path.push(key);
    if let Some(spec) = specs.get(key) {
        let mut deps: Vec<&FeatureKey> = spec.deps.iter().map(|d| &d.feature).collect();
        deps.sort_by_key(|k| k.to_string().to_lowercase());
        for dep in deps {
            if let Some((k, _)) = specs.get_key_value(dep) {
                visit(specs, k, wanted, done, path, out)?;
            }
        }
    }
    path.pop();
    done.insert(key);
    if wanted.contains(key) {
        out.push(key.clone());
    }
    Ok(())
}

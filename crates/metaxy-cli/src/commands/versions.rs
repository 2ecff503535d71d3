//! Commands about versions of the definitions: `push`, `history`, `graph-diff`.

use std::collections::BTreeMap;

use metaxy::graph::GraphDiff;
use metaxy::{AccessMode, FeatureGraph, MetadataStore};
use serde_json::json;

use crate::cli::{GraphDiffArgs, HistoryArgs, PushArgs};
use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output;

fn project_of(ctx: &Ctx, graph: &FeatureGraph) -> CliResult<String> {
    ctx.project
        .config
        .project
        .clone()
        .or_else(|| graph.project().map(str::to_string))
        .ok_or_else(|| {
            CliError::usage(
                "MISSING_REQUIRED_FLAG",
                "no project: set `project = \"...\"` in metaxy.toml (or METAXY_PROJECT, or --project)",
            )
        })
}

/// `metaxy push`.
pub async fn push(ctx: &Ctx, args: &PushArgs) -> CliResult {
    if ctx.global.from_store {
        return Err(CliError::usage(
            "CONFLICTING_FLAGS",
            "push records the definitions files; --from-store makes no sense here",
        ));
    }
    let graph = ctx.graph().await?;
    let project = project_of(ctx, &graph)?;
    let mut tags = BTreeMap::new();
    for t in &args.tags {
        let (k, v) = t
            .split_once('=')
            .ok_or_else(|| CliError::usage("INVALID_TAG", format!("tag {t:?} is not KEY=VALUE")))?;
        tags.insert(k.to_string(), v.to_string());
    }
    let store = ctx.store(&graph.with_project(&project))?;
    let _open = store.open(AccessMode::Write).await?;
    let result = store.push_graph(Some(&project), &tags).await?;
    if ctx.json() {
        return output::json(&result);
    }
    if !ctx.global.quiet {
        let what = if !result.already_pushed {
            format!("Recorded feature graph ({} features)", result.rows_written)
        } else if !result.updated_features.is_empty() {
            format!(
                "Updated feature information (no topological changes): {}",
                result.updated_features.join(", ")
            )
        } else {
            "Snapshot already recorded (no changes)".to_string()
        };
        eprintln!("{what} in {}", store.display());
    }
    println!("{}", result.project_version);
    Ok(())
}

/// `metaxy history`.
pub async fn history(ctx: &Ctx, args: &HistoryArgs) -> CliResult {
    let store = ctx.store(&ctx.empty_graph()?)?;
    let _open = store.open(AccessMode::Read).await?;
    let project = ctx.project_name(&store).await?;
    let mut versions = store.history(Some(&project)).await?;
    let total = versions.len();
    if let Some(n) = args.limit {
        versions.truncate(n);
    }
    if ctx.json() {
        let items: Vec<_> = versions
            .iter()
            .map(|v| json!({"project_version": v.project_version, "recorded_at": output::timestamp(v.recorded_at), "feature_count": v.feature_count}))
            .collect();
        return output::json(&json!({"project": project, "total": total, "versions": items}));
    }
    let rows: Vec<Vec<String>> = versions
        .iter()
        .map(|v| {
            vec![
                v.project_version.clone(),
                output::timestamp(v.recorded_at),
                v.feature_count.to_string(),
            ]
        })
        .collect();
    output::table(&["PROJECT VERSION", "RECORDED AT", "FEATURES"], &rows);
    println!("{total} version(s) of project {project}");
    Ok(())
}

async fn side(
    store: &MetadataStore,
    project: &str,
    which: &str,
    current: &FeatureGraph,
) -> CliResult<FeatureGraph> {
    match which {
        "current" => {
            if current.is_empty() {
                return Err(CliError::usage(
                    "SNAPSHOT_ERROR",
                    "`current` has no features: the definitions are empty",
                ));
            }
            Ok(current.clone())
        }
        "latest" => {
            let v = store
                .latest_pushed_version(Some(project))
                .await?
                .ok_or_else(|| {
                    CliError::failed(
                        "SNAPSHOT_ERROR",
                        format!(
                            "nothing pushed for project {project} in {}; run metaxy push",
                            store.display()
                        ),
                    )
                })?;
            load(store, project, &v).await
        }
        version => load(store, project, version).await,
    }
}

async fn load(store: &MetadataStore, project: &str, version: &str) -> CliResult<FeatureGraph> {
    store
        .load_graph(Some(project), version)
        .await
        .map_err(|e| CliError::failed("SNAPSHOT_LOAD_FAILED", e.to_string()))
}

/// `metaxy graph-diff FROM [TO]`.
pub async fn graph_diff(ctx: &Ctx, args: &GraphDiffArgs) -> CliResult {
    let current = ctx.graph().await?;
    let project = project_of(ctx, &current)?;
    let store = ctx.store(&current)?;
    let _open = store.open(AccessMode::Read).await?;
    let old = side(&store, &project, &args.from, &current).await?;
    let new = side(&store, &project, &args.to, &current).await?;
    let diff = GraphDiff::between(&old, &new);
    if ctx.json() {
        return output::json(&json!({"from": args.from, "to": args.to, "diff": diff}));
    }
    if diff.is_empty() {
        println!("No changes between {} and {}.", args.from, args.to);
        return Ok(());
    }
    for f in &diff.added {
        println!("+ {} (version {})", f.key, f.version);
    }
    for f in &diff.removed {
        println!("- {} (version {})", f.key, f.version);
    }
    for c in &diff.changed {
        println!("~ {} ({} -> {})", c.key, c.old_version, c.new_version);
        if c.field_changes.is_empty() {
            println!("    definition changed (metadata or description), no field versions changed");
        }
        for fc in &c.field_changes {
            let what = if fc.is_added {
                "added"
            } else if fc.is_removed {
                "removed"
            } else {
                "changed"
            };
            println!(
                "    field {} {what} ({} -> {})",
                fc.field_key,
                fc.old_version.as_deref().unwrap_or("-"),
                fc.new_version.as_deref().unwrap_or("-")
            );
        }
    }
    println!("{} unchanged", diff.unchanged.len());
    Ok(())
}

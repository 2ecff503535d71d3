//! `metadata status|delete|copy|rebase`.

use std::collections::BTreeMap;

use metaxy::store::CopyOptions;
use metaxy::{AccessMode, DeleteOptions, Error, Expr, ReadOptions, ResolveOptions, WriteOptions};
use serde_json::{Value, json};

use crate::cli::{CopyArgs, DeleteArgs, RebaseArgs, StatusArgs};
use crate::context::{Ctx, select};
use crate::error::{CliError, CliResult};
use crate::output;

/// Parses repeated `--filter` style options.
pub fn parse_all(sqls: &[String]) -> CliResult<Vec<Expr>> {
    sqls.iter()
        .map(|s| Expr::parse(s).map_err(CliError::from))
        .collect()
}

/// `metaxy metadata status`; returns the exit code (1 when `--assert-in-sync` finds work).
pub async fn status(ctx: &Ctx, args: &StatusArgs) -> CliResult<u8> {
    let graph = ctx.graph().await?;
    let keys = select(&graph, &args.selection, true)?;
    let filters = parse_all(&args.filters)?;
    let global = parse_all(&args.global_filters)?;
    let stale_if = parse_all(&args.stale_if)?;
    let store = ctx.store(&graph)?;
    let _open = store.open(AccessMode::Read).await?;
    let progress = ctx.progress("computing status");
    let mut features = serde_json::Map::new();
    let mut any_work = false;
    let mut any_error = false;
    for key in &keys {
        progress.set(&format!("resolving {key}"));
        let spec = graph.spec(key)?;
        let mut entry = json!({
            "feature_key": key.to_string(),
            "target_version": graph.feature_version(key)?,
            "is_root_feature": spec.is_root(),
        });
        let read = ReadOptions {
            filters: filters.iter().chain(&global).cloned().collect(),
            columns: Some(spec.id_columns.clone()),
            ..ReadOptions::new()
        };
        let (exists, rows) = match store.read(key, read).await {
            Ok(b) => (true, b.num_rows()),
            Err(Error::FeatureNotFound { .. }) => (false, 0),
            Err(e) => {
                any_error = true;
                entry["status"] = json!("error");
                entry["error_message"] = json!(e.to_string());
                features.insert(key.to_string(), entry);
                continue;
            }
        };
        entry["metadata_exists"] = json!(exists);
        entry["store_rows"] = json!(rows);
        if spec.is_root() {
            entry["status"] = json!(if exists { "root_feature" } else { "missing" });
            entry["needs_update"] = json!(false);
            features.insert(key.to_string(), entry);
            continue;
        }
        let options = ResolveOptions {
            global_filters: global.clone(),
            target_filters: filters.clone(),
            staleness_predicates: stale_if.clone(),
            ..ResolveOptions::new()
        };
        match store.resolve_update(key, options).await {
            Ok(inc) => {
                let (new, stale, orphaned) = inc.counts();
                let needs = new + stale + orphaned > 0;
                any_work |= needs;
                entry["missing"] = json!(new);
                entry["stale"] = json!(stale);
                entry["orphaned"] = json!(orphaned);
                entry["needs_update"] = json!(needs);
                entry["status"] = json!(if !exists {
                    "missing"
                } else if needs {
                    "needs_update"
                } else {
                    "up_to_date"
                });
            }
            Err(Error::FeatureNotFound { key: missing, .. }) if missing != key.to_string() => {
                // an upstream has no metadata yet: nothing can be computed for this feature
                entry["status"] = json!("upstream_missing");
                entry["needs_update"] = json!(false);
                entry["error_message"] = json!(format!("upstream `{missing}` has no metadata yet"));
            }
            Err(e) => {
                any_error = true;
                entry["status"] = json!("error");
                entry["error_message"] = json!(e.to_string());
            }
        }
        features.insert(key.to_string(), entry);
    }
    progress.finish();
    if ctx.json() {
        output::json(&json!({
            "project_version": graph.project_version(),
            "store": store.display(),
            "features": features,
            "needs_update": any_work,
        }))?;
    } else {
        let n = |v: &Value| {
            v.as_u64()
                .map(|x| x.to_string())
                .unwrap_or_else(|| "-".into())
        };
        let rows: Vec<Vec<String>> = features
            .values()
            .map(|e| {
                vec![
                    e["feature_key"].as_str().unwrap_or_default().to_string(),
                    e["status"].as_str().unwrap_or_default().to_string(),
                    n(&e["store_rows"]),
                    n(&e["missing"]),
                    n(&e["stale"]),
                    n(&e["orphaned"]),
                    e["error_message"].as_str().unwrap_or_default().to_string(),
                ]
            })
            .collect();
        output::table(
            &["FEATURE", "STATUS", "ROWS", "NEW", "STALE", "ORPHANED", ""],
            &rows,
        );
        println!("store: {}", store.display());
    }
    if any_error {
        return Err(CliError::failed(
            "GENERIC_ERROR",
            "the status of some features could not be computed (see above)",
        ));
    }
    Ok(if args.assert_in_sync && any_work {
        1
    } else {
        0
    })
}

/// `metaxy metadata delete`.
pub async fn delete(ctx: &Ctx, args: &DeleteArgs) -> CliResult {
    let graph = ctx.graph().await?;
    let keys = select(&graph, &args.selection, false)?;
    let filter = Expr::conjunction(parse_all(&args.filters)?);
    if args.hard && filter.is_none() && !args.yes && !args.dry_run {
        return Err(CliError::usage(
            "MISSING_CONFIRMATION",
            "a hard delete without --filter removes every row of the selected features; add --yes to confirm",
        ));
    }
    let store = ctx.store(&graph)?;
    let _open = store
        .open(if args.dry_run {
            AccessMode::Read
        } else {
            AccessMode::Write
        })
        .await?;
    let mut counts = BTreeMap::new();
    let mut errors = BTreeMap::new();
    for key in &keys {
        let result = if args.dry_run {
            let read = ReadOptions {
                filters: filter.iter().cloned().collect(),
                with_feature_history: args.with_feature_history,
                allow_fallback: false,
                ..ReadOptions::new()
            };
            match store.read(key, read).await {
                Ok(b) => Ok(b.num_rows() as u64),
                Err(Error::FeatureNotFound { .. }) if graph.contains(key) => Ok(0),
                Err(e) => Err(e),
            }
        } else {
            let options = DeleteOptions {
                soft: !args.hard,
                with_feature_history: args.with_feature_history,
                with_sample_history: false,
            };
            store.delete(key, filter.clone(), options).await
        };
        match result {
            Ok(n) => {
                counts.insert(key.to_string(), n);
            }
            Err(e) => {
                errors.insert(key.to_string(), e.to_string());
            }
        }
    }
    if ctx.json() {
        output::json(
            &json!({"soft": !args.hard, "dry_run": args.dry_run, "deleted": counts, "errors": errors}),
        )?;
    } else {
        let verb = match (args.dry_run, args.hard) {
            (true, _) => "would delete",
            (false, true) => "deleted",
            (false, false) => "soft-deleted",
        };
        for (k, n) in &counts {
            println!("{k}: {verb} {n} row(s)");
        }
        for (k, e) in &errors {
            println!("{k}: failed: {e}");
        }
    }
    if !errors.is_empty() {
        return Err(CliError::failed(
            "GENERIC_ERROR",
            format!("{} feature(s) could not be deleted", errors.len()),
        ));
    }
    Ok(())
}

/// `metaxy metadata copy`.
pub async fn copy(ctx: &Ctx, args: &CopyArgs) -> CliResult {
    if args.from == args.to {
        return Err(CliError::usage(
            "CONFLICTING_FLAGS",
            "--from and --to name the same store",
        ));
    }
    let graph = ctx.graph().await?;
    let keys = select(&graph, &args.selection, true)?;
    let source = ctx.named_store(&args.from, &graph)?;
    let target = ctx.named_store(&args.to, &graph)?;
    let _s = source.open(AccessMode::Read).await?;
    let _t = target.open(AccessMode::Write).await?;
    let progress = ctx.progress("copying");
    let options = CopyOptions {
        global_filters: parse_all(&args.filters)?,
        with_feature_history: !args.current_version_only,
        with_sample_history: args.with_sample_history,
        ..CopyOptions::default()
    };
    let result = target.copy_metadata(&source, Some(keys), options).await?;
    progress.finish();
    if ctx.json() {
        return output::json(&result);
    }
    println!(
        "copied {} row(s) of {} feature(s) from {} to {}",
        result.rows_copied,
        result.features_copied,
        source.display(),
        target.display()
    );
    Ok(())
}

/// `metaxy metadata rebase`.
pub async fn rebase(ctx: &Ctx, args: &RebaseArgs) -> CliResult {
    let graph = ctx.graph().await?;
    let key = metaxy::FeatureKey::new(&args.feature)?;
    graph.spec(&key)?;
    let store = ctx.store(&graph)?;
    let _open = store
        .open(if args.dry_run {
            AccessMode::Read
        } else {
            AccessMode::Write
        })
        .await?;
    let rows = store
        .read(
            &key,
            ReadOptions::new()
                .feature_version(args.from.clone())
                .allow_fallback(false),
        )
        .await?;
    if rows.num_rows() == 0 {
        return Err(CliError::failed(
            "NO_ROWS",
            format!(
                "no rows of `{key}` with feature version {} in {}",
                args.from,
                store.display()
            ),
        ));
    }
    let rebased = store.rebase(&key, rows, args.to.as_deref()).await?;
    let n = rebased.num_rows();
    if !args.dry_run {
        store
            .write_with(
                &key,
                rebased,
                WriteOptions {
                    preserve_feature_version: true,
                    ..WriteOptions::default()
                },
            )
            .await?;
    }
    let target = args.to.clone().unwrap_or_else(|| {
        graph
            .feature_version(&key)
            .map(str::to_string)
            .unwrap_or_default()
    });
    if ctx.json() {
        return output::json(
            &json!({"feature": key.to_string(), "from": args.from, "to": target, "rows": n, "dry_run": args.dry_run}),
        );
    }
    println!(
        "{} {n} row(s) of {key} from version {} to {target}",
        if args.dry_run {
            "would rebase"
        } else {
            "rebased"
        },
        args.from
    );
    Ok(())
}

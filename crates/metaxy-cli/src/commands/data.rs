//! `resolve` (increment → files, optionally sharded) and `write` (file → feature).

use std::path::PathBuf;

use arrow_array::{RecordBatch, UInt32Array};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use metaxy::{AccessMode, FeatureKey, ResolveOptions, WriteOptions, columns};
use serde_json::json;

use crate::cli::{ResolveArgs, WriteArgs};
use crate::commands::metadata::parse_all;
use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::{files, output};

/// The shard of every row: a stable hash (xxh64 of the id values' text) modulo `shards`,
/// identical across runs, machines and formats.
pub fn shard_of_rows(
    batch: &RecordBatch,
    id_columns: &[String],
    shards: usize,
) -> CliResult<Vec<usize>> {
    let opts = FormatOptions::default();
    let formatters = id_columns
        .iter()
        .map(|c| {
            let col = batch.column_by_name(c).ok_or_else(|| {
                CliError::failed(
                    "DATA_ERROR",
                    format!("the increment has no id column `{c}`"),
                )
            })?;
            Ok(ArrayFormatter::try_new(col.as_ref(), &opts)?)
        })
        .collect::<CliResult<Vec<_>>>()?;
    let mut key = String::new();
    Ok((0..batch.num_rows())
        .map(|row| {
            key.clear();
            for f in &formatters {
                key.push_str(&f.value(row).to_string());
                key.push('\u{1f}');
            }
            (xxhash_rust::xxh64::xxh64(key.as_bytes(), 0) % shards as u64) as usize
        })
        .collect())
}

/// `metaxy resolve FEATURE`.
pub async fn resolve(ctx: &Ctx, args: &ResolveArgs) -> CliResult {
    if args.shards == 0 {
        return Err(CliError::usage(
            "INVALID_SHARDS",
            "--shards must be at least 1",
        ));
    }
    let graph = ctx.graph().await?;
    let key = FeatureKey::new(&args.feature)?;
    let spec = graph.spec(&key)?.clone();
    if spec.is_root() {
        return Err(CliError::usage(
            "ROOT_FEATURE",
            format!(
                "`{key}` is a root feature: its samples come from your ingestion, not from upstream features"
            ),
        ));
    }
    let plan = graph.plan(&key)?.clone();
    let store = ctx.store(&graph)?;
    let _open = store.open(AccessMode::Read).await?;
    let progress = ctx.progress(&format!("resolving {key}"));
    let options = ResolveOptions {
        target_filters: parse_all(&args.filters)?,
        global_filters: parse_all(&args.global_filters)?,
        staleness_predicates: parse_all(&args.stale_if)?,
        ..ResolveOptions::new()
    };
    let inc = store.resolve_update(&key, options).await?;
    progress.set("writing files");
    std::fs::create_dir_all(&args.out)?;
    let ext = files::extension(args.as_);
    let mut written = Vec::new();
    for (part, batch) in [
        ("new", &inc.new),
        ("stale", &inc.stale),
        ("orphaned", &inc.orphaned),
    ] {
        let ids: Vec<String> = if spec
            .id_columns
            .iter()
            .all(|c| batch.column_by_name(c).is_some())
        {
            spec.id_columns.clone()
        } else {
            plan.join_columns.clone()
        };
        let shard_of = if args.shards > 1 {
            shard_of_rows(batch, &ids, args.shards)?
        } else {
            vec![0; batch.num_rows()]
        };
        for shard in 0..args.shards {
            let rows: UInt32Array = shard_of
                .iter()
                .enumerate()
                .filter(|(_, s)| **s == shard)
                .map(|(i, _)| i as u32)
                .collect();
            let part_batch = arrow_select::take::take_record_batch(batch, &rows)?;
            let name = if args.shards > 1 {
                format!(
                    "{}.{part}.shard-{shard:03}-of-{:03}.{ext}",
                    key.table_name(),
                    args.shards
                )
            } else {
                format!("{}.{part}.{ext}", key.table_name())
            };
            let path: PathBuf = args.out.join(name);
            files::write(&path, &part_batch, args.as_)?;
            written.push(json!({"part": part, "shard": shard, "path": path.display().to_string(), "rows": part_batch.num_rows()}));
        }
    }
    progress.finish();
    let (new, stale, orphaned) = inc.counts();
    if ctx.json() {
        return output::json(&json!({
            "feature": key.to_string(),
            "new": new,
            "stale": stale,
            "orphaned": orphaned,
            "shards": args.shards,
            "files": written,
        }));
    }
    println!("{key}: {new} new, {stale} stale, {orphaned} orphaned");
    for w in &written {
        println!(
            "  {} ({} rows)",
            w["path"].as_str().unwrap_or_default(),
            w["rows"]
        );
    }
    Ok(())
}

/// `metaxy write FEATURE FILE`.
pub async fn write(ctx: &Ctx, args: &WriteArgs) -> CliResult {
    let graph = ctx.graph().await?;
    let key = FeatureKey::new(&args.feature)?;
    graph.spec(&key)?;
    let format = match args.as_ {
        Some(f) => f,
        None => files::format_of(&args.file)?,
    };
    let mut batch = files::read(&args.file, format)?;
    for c in [columns::PROVENANCE_BY_FIELD, columns::DATA_VERSION_BY_FIELD] {
        batch = files::decode_json_struct(&batch, c)?;
    }
    let store = ctx.store(&graph)?;
    let _open = store.open(AccessMode::Write).await?;
    let progress = ctx.progress(&format!("writing {} rows to {key}", batch.num_rows()));
    let options = WriteOptions {
        materialization_id: args.materialization_id.clone(),
        ..WriteOptions::default()
    };
    let n = store.write_with(&key, batch, options).await?;
    progress.finish();
    if ctx.json() {
        return output::json(
            &json!({"feature": key.to_string(), "rows_written": n, "store": store.display()}),
        );
    }
    println!("wrote {n} row(s) to {key} in {}", store.display());
    Ok(())
}

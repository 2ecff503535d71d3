//! The versioning pushdown on DuckDB: which resolves run inside DuckDB, and that only the
//! increment comes back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use metaxy_conformance::suite::batch;
use metaxy_core::{AccessMode, FeatureGraph, MetadataStore, ResolveOptions};
use metaxy_duckdb::DuckDbBackend;
use serde_json::{Value, json};

fn graph() -> FeatureGraph {
    FeatureGraph::from_json(
        &json!([
            {"key": "pd/raw", "id_columns": ["sample_uid"], "fields": ["audio", "frames"]},
            {"key": "pd/clip", "id_columns": ["sample_uid"], "deps": [{"feature": "pd/raw"}],
             "fields": ["audio", "frames"]},
            {"key": "pd/summary", "id_columns": ["group"],
             "deps": [{"feature": "pd/raw", "lineage": {"relationship": {"type": "N:1", "on": ["group"]}}}],
             "fields": ["audio"]},
        ]),
        Some(8),
    )
    .unwrap()
}

fn raw(ids: std::ops::Range<i64>, audio: &str) -> arrow_array::RecordBatch {
    batch(Value::Array(
        ids.map(|i| {
            json!({"sample_uid": i, "group": i % 10,
                   "metaxy_provenance_by_field": {"audio": format!("{audio}{i}"), "frames": format!("f{i}")}})
        })
        .collect(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_increment_leaves_duckdb() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metadata.duckdb");
    let backend = Arc::new(DuckDbBackend::file(&path).with_pushdown(true));
    let store = MetadataStore::new(backend.clone(), graph());
    {
        let _g = store.open(AccessMode::Write).await.unwrap();
        store.write("pd/raw", raw(0..2000, "a")).await.unwrap();
        let inc = store
            .resolve_update("pd/clip", ResolveOptions::new())
            .await
            .unwrap();
        assert_eq!(inc.new.num_rows(), 2000);
        assert_eq!(backend.pushdown_stats().queries(), 1);
        assert_eq!(backend.pushdown_stats().rows(), 2000);
        store.write("pd/clip", inc.new).await.unwrap();
        store
            .write("pd/raw", raw(100..125, "changed"))
            .await
            .unwrap();
    }
    // a read-only open resolves inside DuckDB too (the functions live with the connection)
    let _g = store.open(AccessMode::Read).await.unwrap();
    let inc = store
        .resolve_update("pd/clip", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(inc.stale.num_rows(), 25);
    assert_eq!(inc.new.num_rows() + inc.orphaned.num_rows(), 0);
    assert_eq!(backend.pushdown_stats().queries(), 2);
    // 25 stale samples: 25 rows with both sides, out of 2000 samples
    assert_eq!(backend.pushdown_stats().rows(), 2025);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_without_an_sql_form_run_in_the_core_engine() {
    let backend = Arc::new(DuckDbBackend::temporary().unwrap().with_pushdown(true));
    let store = MetadataStore::new(backend.clone(), graph());
    let _g = store.open(AccessMode::Write).await.unwrap();
    store.write("pd/raw", raw(0..50, "a")).await.unwrap();
    // N:1 aggregation is computed by the core engine
    let inc = store
        .resolve_update("pd/summary", ResolveOptions::new())
        .await
        .unwrap();
    assert!(inc.new.num_rows() > 0);
    assert_eq!(backend.pushdown_stats().queries(), 0);
    // so are staleness predicates
    let inc = store
        .resolve_update(
            "pd/clip",
            ResolveOptions {
                staleness_predicates: vec![metaxy_core::Expr::parse("sample_uid < 5").unwrap()],
                ..ResolveOptions::new()
            },
        )
        .await
        .unwrap();
    assert_eq!(inc.new.num_rows(), 50);
    assert_eq!(backend.pushdown_stats().queries(), 0);
}

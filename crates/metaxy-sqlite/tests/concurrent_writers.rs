//! Several writers on one SQLite file, each with its own connection: every row written is
//! read back (WAL and the busy timeout make them wait for each other instead of failing).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use metaxy_conformance::suite::{batch, int_set};
use metaxy_core::{AccessMode, FeatureGraph, MetadataStore, ReadOptions};
use metaxy_sqlite::SqliteBackend;

const WRITERS: i64 = 4;
const WRITES: i64 = 25;
const ROWS: i64 = 20;

fn graph() -> FeatureGraph {
    FeatureGraph::from_json(
        &serde_json::json!([{"key": "load/items", "id_columns": ["id"], "fields": ["default"]}]),
        Some(8),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.sqlite");
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            // a separate backend, hence a separate connection, per writer
            let store = MetadataStore::new(Arc::new(SqliteBackend::file(&path)), graph());
            let _g = store.open(AccessMode::Write).await.unwrap();
            for i in 0..WRITES {
                let rows: Vec<serde_json::Value> = (0..ROWS)
                    .map(|r| {
                        let id = (w * WRITES + i) * ROWS + r;
                        serde_json::json!({"id": id, "writer": w, "metaxy_provenance_by_field": {"default": format!("p{id}")}})
                    })
                    .collect();
                store.write("load/items", batch(serde_json::Value::Array(rows))).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let store = MetadataStore::new(Arc::new(SqliteBackend::file(&path)), graph());
    let _g = store.open(AccessMode::Read).await.unwrap();
    let all = store.read("load/items", ReadOptions::new()).await.unwrap();
    let expected: std::collections::BTreeSet<i64> = (0..WRITERS * WRITES * ROWS).collect();
    assert_eq!(int_set(&all, "id"), expected);
}

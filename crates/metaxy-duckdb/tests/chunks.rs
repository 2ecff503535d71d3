//! Reads keep the latest row of every sample across the parts a DuckDB scan returns: the
//! backend hands a scan to the store as the runs of rows DuckDB's threads collected
//! (`scan_parts`; through Arrow, as DuckDB's 2,048-row chunks), and the store deduplicates
//! across them without concatenating them first. Three writes put each sample's versions in
//! different places of the table; the result must match the memory backend's, whose parts are
//! its appends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use metaxy_conformance::suite::batch;
use metaxy_core::backend::ScanRequest;
use metaxy_core::{
    AccessMode, Backend, FeatureGraph, FeatureKey, MemoryBackend, MetadataStore, ReadOptions,
};
use metaxy_duckdb::DuckDbBackend;
use serde_json::{Value, json};

fn graph() -> FeatureGraph {
    FeatureGraph::from_json(
        &json!([{"key": "ck/raw", "id_columns": ["sample_uid"], "fields": ["audio"]}]),
        Some(8),
    )
    .unwrap()
}

fn raw(ids: impl Iterator<Item = i64>, audio: &str) -> RecordBatch {
    batch(Value::Array(
        ids.map(|i| json!({"sample_uid": i, "metaxy_provenance_by_field": {"audio": format!("{audio}{i}")}}))
            .collect(),
    ))
}

/// Writes: a first version of 5,000 samples, a full rewrite of the second half plus 2,500 new
/// samples (one run of winners), then every seventh sample again (scattered winners).
async fn write_all(store: &MetadataStore) {
    store.write("ck/raw", raw(0..5000, "a")).await.unwrap();
    store.write("ck/raw", raw(2500..7500, "b")).await.unwrap();
    store
        .write("ck/raw", raw((0..7500).filter(|i| i % 7 == 0), "c"))
        .await
        .unwrap();
}

/// `sample_uid → audio` of the latest rows.
async fn latest(store: &MetadataStore) -> BTreeMap<i64, String> {
    let read = store.read("ck/raw", ReadOptions::default()).await.unwrap();
    let ids = read
        .column_by_name("sample_uid")
        .unwrap()
        .as_primitive::<arrow_array::types::Int64Type>();
    let by_field = read
        .column_by_name("metaxy_provenance_by_field")
        .unwrap()
        .as_struct();
    let audio = by_field.column_by_name("audio").unwrap().as_string::<i32>();
    let out: BTreeMap<i64, String> = (0..read.num_rows())
        .map(|i| (ids.value(i), audio.value(i).to_string()))
        .collect();
    assert_eq!(out.len(), read.num_rows(), "one row per sample");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_keep_the_latest_row_across_result_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let duck = Arc::new(DuckDbBackend::file(dir.path().join("metadata.duckdb")));
    let store = MetadataStore::new(duck.clone(), graph());
    let _g = store.open(AccessMode::Write).await.unwrap();
    write_all(&store).await;

    // every stored row comes back once, whatever the parts
    let parts = duck
        .scan_parts(&FeatureKey::new("ck/raw").unwrap(), &ScanRequest::all())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        parts.iter().map(|p| p.num_rows()).sum::<usize>(),
        5000 + 5000 + 1072
    );

    let got = latest(&store).await;
    assert_eq!(got.len(), 7500);
    for (id, audio) in &got {
        let want = if id % 7 == 0 {
            "c"
        } else if *id >= 2500 {
            "b"
        } else {
            "a"
        };
        assert_eq!(audio, &format!("{want}{id}"), "sample {id}");
    }

    // and the same as the in-memory reference, which keeps the appends as parts of its own
    let memory = MetadataStore::new(Arc::new(MemoryBackend::new()), graph());
    let _m = memory.open(AccessMode::Write).await.unwrap();
    write_all(&memory).await;
    assert_eq!(latest(&memory).await, got);
}

//! Several processes appending to one feature at once lose no rows: Delta's optimistic
//! concurrency retries a commit that lost the race, and blind appends never conflict.
//!
//! Runs on a local directory always, and on S3 (moto_server, see `common`) when available.
//! The test re-runs its own binary as the writer processes (selected by an environment
//! variable), so no extra program is needed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use metaxy_conformance::suite::{batch, int_set};
use metaxy_core::{AccessMode, FeatureGraph, MetadataStore, ReadOptions};
use metaxy_delta::{DeltaBackend, DeltaConfig};

const CHILD: &str = "METAXY_DELTA_TEST_WRITER";
const WRITERS: i64 = 4;
const WRITES: i64 = 8;
const ROWS: i64 = 25;

fn graph() -> FeatureGraph {
    FeatureGraph::from_json(
        &serde_json::json!([{"key": "load/items", "id_columns": ["id"], "fields": ["default"]}]),
        Some(8),
    )
    .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The writer process: `WRITES` appends of `ROWS` fresh ids each.
fn writer(spec: &str) {
    let (config, w): (serde_json::Value, i64) = serde_json::from_str(spec).unwrap();
    let config: DeltaConfig = serde_json::from_value(config).unwrap();
    runtime().block_on(async {
        let store = MetadataStore::new(Arc::new(DeltaBackend::new(config).unwrap()), graph());
        let _g = store.open(AccessMode::Write).await.unwrap();
        for i in 0..WRITES {
            let rows: Vec<serde_json::Value> = (0..ROWS)
                .map(|r| {
                    let id = (w * WRITES + i) * ROWS + r;
                    serde_json::json!({"id": id, "writer": w, "metaxy_provenance_by_field": {"default": format!("p{id}")}})
                })
                .collect();
            store
                .write("load/items", batch(serde_json::Value::Array(rows)))
                .await
                .unwrap();
        }
    });
}

fn config_json(config: &DeltaConfig) -> serde_json::Value {
    serde_json::json!({
        "root_path": config.root_path,
        "storage_options": config.storage_options,
    })
}

/// Starts every writer at once, waits for all, and checks that every row is there.
fn concurrent_appends(config: DeltaConfig) {
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..WRITERS)
        .map(|w| {
            Command::new(&exe)
                .env(
                    CHILD,
                    serde_json::json!([config_json(&config), w]).to_string(),
                )
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a writer failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    runtime().block_on(async {
        let store = MetadataStore::new(Arc::new(DeltaBackend::new(config).unwrap()), graph());
        let _g = store.open(AccessMode::Read).await.unwrap();
        let rows = store.read("load/items", ReadOptions::new()).await.unwrap();
        let total = WRITERS * WRITES * ROWS;
        assert_eq!(rows.num_rows() as i64, total);
        assert_eq!(int_set(&rows, "id"), (0..total).collect());
    });
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD) {
        writer(&spec);
        return;
    }
    let args = Arguments::from_args();
    let moto_binary = common::moto_binary();
    if moto_binary.is_none() {
        eprintln!(
            "\n*** Delta S3 concurrency test SKIPPED: {} ***\n",
            common::skip_reason()
        );
    }
    let trials = vec![
        Trial::test("local_directory_concurrent_appends", || {
            let dir = tempfile::tempdir().unwrap();
            concurrent_appends(DeltaConfig::new(dir.path().to_string_lossy()));
            Ok(())
        }),
        Trial::ignorable_test("s3_concurrent_appends", move || {
            let Some(binary) = moto_binary else {
                return Ok(Completion::ignored_with(common::skip_reason()));
            };
            let moto = common::Moto::start(&binary);
            runtime().block_on(moto.create_bucket("concurrency"));
            concurrent_appends(moto.config("concurrency", "store"));
            Ok::<_, Failed>(Completion::Completed)
        }),
    ];
    libtest_mimic::run(&args, trials).exit();
}

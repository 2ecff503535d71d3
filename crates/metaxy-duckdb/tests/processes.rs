//! Several processes on one DuckDB file: readers share it, a second writer gets a clear error.
//!
//! The test re-runs its own binary as the "other process" (selected by an environment
//! variable), so no extra program is needed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use metaxy_core::{AccessMode, FeatureGraph, MetadataStore, ReadOptions};
use metaxy_duckdb::DuckDbBackend;

const CHILD: &str = "METAXY_DUCKDB_TEST_CHILD";

fn graph() -> FeatureGraph {
    FeatureGraph::from_json(
        &serde_json::json!([{"key": "p/items", "id_columns": ["id"], "fields": ["default"]}]),
        Some(8),
    )
    .unwrap()
}

/// In the child: open `path` in `mode`, say "ready <rows>", then hold it until stdin closes.
async fn child(path: &str, mode: &str) {
    let store = MetadataStore::new(Arc::new(DuckDbBackend::file(path)), graph());
    let mode = if mode == "write" {
        AccessMode::Write
    } else {
        AccessMode::Read
    };
    match store.open(mode).await {
        Ok(_guard) => {
            let rows = store
                .read("p/items", ReadOptions::new())
                .await
                .map(|b| b.num_rows())
                .unwrap_or(0);
            println!("ready {rows}");
            std::io::stdout().flush().unwrap();
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        }
        Err(e) => {
            println!("error {e}");
        }
    }
}

fn spawn(path: &Path, mode: &str) -> (Child, String) {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "processes_share_and_lock",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, format!("{}|{mode}", path.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        // libtest prints "test name ... " before the child's own output on the same line
        if let Some(pos) = line.find("ready ").or_else(|| line.find("error ")) {
            return (child, line[pos..].trim().to_string());
        }
    }
    (child, line.trim().to_string())
}

fn finish(mut child: Child) {
    drop(child.stdin.take());
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_share_and_lock() {
    if let Ok(spec) = std::env::var(CHILD) {
        let (path, mode) = spec.split_once('|').unwrap();
        child(path, mode).await;
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.duckdb");
    {
        let store = MetadataStore::new(Arc::new(DuckDbBackend::file(&path)), graph());
        let _g = store.open(AccessMode::Write).await.unwrap();
        let rows = metaxy_conformance::suite::batch(serde_json::json!([
            {"id": 1, "metaxy_provenance_by_field": {"default": "a"}},
            {"id": 2, "metaxy_provenance_by_field": {"default": "b"}},
        ]));
        store.write("p/items", rows).await.unwrap();
    }

    // two reader processes at once, plus this process reading too
    let (r1, l1) = spawn(&path, "read");
    let (r2, l2) = spawn(&path, "read");
    assert_eq!(l1, "ready 2", "first reader");
    assert_eq!(l2, "ready 2", "second reader");
    let store = MetadataStore::new(Arc::new(DuckDbBackend::file(&path)), graph());
    {
        let _g = store.open(AccessMode::Read).await.unwrap();
        assert_eq!(
            store
                .read("p/items", ReadOptions::new())
                .await
                .unwrap()
                .num_rows(),
            2
        );
    }
    finish(r1);
    finish(r2);

    // a writer process holds the lock: opening for writing here fails fast and clearly
    let (w, l) = spawn(&path, "write");
    assert_eq!(l, "ready 2", "writer process");
    let started = std::time::Instant::now();
    let err = match store.open(AccessMode::Write).await {
        Ok(_) => panic!("a second writer must not get the lock"),
        Err(e) => e.to_string(),
    };
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "no hang"
    );
    assert!(
        err.contains(&path.display().to_string()),
        "names the file: {err}"
    );
    assert!(
        err.contains("locked by") && err.contains("PID"),
        "names the holder: {err}"
    );
    finish(w);

    // once the writer is gone, writing works again
    let _g = store.open(AccessMode::Write).await.unwrap();
    assert_eq!(
        store
            .read("p/items", ReadOptions::new())
            .await
            .unwrap()
            .num_rows(),
        2
    );
}

//! The DuckDB store never needs the network: no extension is installed or downloaded.
//! `.ci/run` also runs this test inside a network namespace without any interface.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use metaxy_conformance::suite::{video_graph, video_rows};
use metaxy_core::{AccessMode, MetadataStore, ReadOptions, ResolveOptions};
use metaxy_duckdb::DuckDbBackend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_write_resolve_without_network() {
    let backend = Arc::new(DuckDbBackend::temporary().unwrap().with_pushdown(true));
    let store = MetadataStore::new(backend.clone(), video_graph());
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write(
            "example/video",
            video_rows(&[(1, "a1", "f1"), (2, "a2", "f2")]),
        )
        .await
        .unwrap();
    let inc = store
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(inc.new.num_rows(), 2);
    store.write("example/crop", inc.new).await.unwrap();
    store
        .write("example/video", video_rows(&[(2, "a2b", "f2")]))
        .await
        .unwrap();
    let inc = store
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(inc.stale.num_rows(), 1);
    let read = store
        .read("example/crop", ReadOptions::new())
        .await
        .unwrap();
    assert_eq!(read.num_rows(), 2);
    // both resolves ran inside DuckDB, with the hash functions registered from Rust
    assert_eq!(backend.pushdown_stats().queries(), 2);
}

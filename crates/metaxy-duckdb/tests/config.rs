//! Opening DuckDB stores from metaxy.toml through the backend registry.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use metaxy_conformance::suite::{video_graph_json, video_rows};
use metaxy_core::config::{BackendRegistry, MetaxyConfig};
use metaxy_core::{AccessMode, FeatureGraph, ReadOptions};

fn registry() -> BackendRegistry {
    let mut r = BackendRegistry::new();
    metaxy_duckdb::register(&mut r);
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_class_path_and_relative_database() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("metaxy.toml"),
        "project = \"demo\"\n[stores.dev]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\n\
         [stores.dev.config]\ndatabase = \"data/meta.duckdb\"\nhash_algorithm = \"xxhash64\"\n\
         [stores.dev.config.config]\nthreads = \"1\"\n",
    )
    .unwrap();
    let nested = dir.path().join("src/deep");
    std::fs::create_dir_all(&nested).unwrap();
    let cfg = MetaxyConfig::load_with(None, &nested, &[]).unwrap();
    let graph =
        FeatureGraph::from_json(&video_graph_json("1"), Some(cfg.hash_truncation_length)).unwrap();
    let store = cfg.open_store(None, graph, &registry()).unwrap();
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write("example/video", video_rows(&[(1, "a1", "f1")]))
        .await
        .unwrap();
    assert!(
        dir.path().join("data/meta.duckdb").is_file(),
        "relative to the config file, not the cwd"
    );
    assert_eq!(
        store
            .read("example/video", ReadOptions::new())
            .await
            .unwrap()
            .num_rows(),
        1
    );
}

#[test]
fn the_default_store_is_duckdb_and_bad_settings_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = MetaxyConfig::load_with(None, dir.path(), &[]).unwrap();
    let store = cfg
        .open_store(None, FeatureGraph::new([]).unwrap(), &registry())
        .unwrap();
    assert!(
        store.display().contains(".metaxy/metadata.duckdb"),
        "{}",
        store.display()
    );
    std::fs::write(
        dir.path().join("metaxy.toml"),
        "[stores.dev]\ntype = \"duckdb\"\n[stores.dev.config]\ndatabse = \"x.duckdb\"\n",
    )
    .unwrap();
    let cfg = MetaxyConfig::load_with(None, dir.path(), &[]).unwrap();
    let e = cfg
        .open_store(None, FeatureGraph::new([]).unwrap(), &registry())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("metaxy.toml") && e.contains("stores.dev.config") && e.contains("databse"),
        "{e}"
    );
}

#[test]
fn pushdown_is_off_by_default_and_can_be_turned_on() {
    let dir = tempfile::tempdir().unwrap();
    let open = |extra: &str| {
        std::fs::write(
            dir.path().join("metaxy.toml"),
            format!("[stores.dev]\ntype = \"duckdb\"\n[stores.dev.config]\ndatabase = \"m.duckdb\"\n{extra}"),
        )
        .unwrap();
        let cfg = MetaxyConfig::load_with(None, dir.path(), &[]).unwrap();
        cfg.open_store(None, FeatureGraph::new([]).unwrap(), &registry())
    };
    let on = open("pushdown = true\n").unwrap();
    assert_eq!(
        on.backend().capabilities().pushdown_hash_algorithms,
        metaxy_core::HashAlgorithm::ALL.to_vec()
    );
    assert!(on.backend().sql_pushdown().is_some());
    // off by default: the core engine is faster on DuckDB (docs/src/benchmarks.md)
    let off = open("").unwrap();
    assert!(
        off.backend()
            .capabilities()
            .pushdown_hash_algorithms
            .is_empty()
    );
    assert!(off.backend().sql_pushdown().is_none());
    let e = open("pushdown = \"sometimes\"\n").unwrap_err().to_string();
    assert!(e.contains("pushdown"), "{e}");
}

//! Opening LanceDB stores from metaxy.toml through the backend registry.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use metaxy_conformance::suite::{video_graph_json, video_rows};
use metaxy_core::config::{BackendRegistry, MetaxyConfig};
use metaxy_core::{AccessMode, FeatureGraph, ReadOptions};

fn registry() -> BackendRegistry {
    let mut r = BackendRegistry::new();
    metaxy_lancedb::register(&mut r);
    r
}

fn config(dir: &std::path::Path, store_config: &str) -> MetaxyConfig {
    std::fs::write(
        dir.join("metaxy.toml"),
        format!(
            "project = \"demo\"\n[stores.dev]\ntype = \"metaxy.ext.lancedb.LanceDBMetadataStore\"\n\
             [stores.dev.config]\n{store_config}\n"
        ),
    )
    .unwrap();
    MetaxyConfig::load_with(None, dir, &[]).unwrap()
}

fn open_error(dir: &std::path::Path, store_config: &str) -> String {
    config(dir, store_config)
        .open_store(None, FeatureGraph::new([]).unwrap(), &registry())
        .unwrap_err()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_class_path_relative_uri_and_python_table_names() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        "uri = \"data/lance\"\n[stores.dev.config.connect_kwargs.storage_options]\n\
         timeout = \"30s\"\n",
    );
    let graph =
        FeatureGraph::from_json(&video_graph_json("1"), Some(cfg.hash_truncation_length)).unwrap();
    let store = cfg.open_store(None, graph, &registry()).unwrap();
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write(
            "example/video",
            video_rows(&[(1, "a1", "f1"), (2, "a2", "f2")]),
        )
        .await
        .unwrap();
    // Relative to the config file, one Lance table per feature named as Python names it.
    assert!(
        dir.path().join("data/lance/example__video.lance").is_dir(),
        "tables: {:?}",
        std::fs::read_dir(dir.path().join("data/lance"))
            .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
    );
    let read = store
        .read("example/video", ReadOptions::new())
        .await
        .unwrap();
    assert_eq!(read.num_rows(), 2);
}

#[test]
fn bad_settings_name_the_key_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let e = open_error(dir.path(), "urii = \"x\"");
    assert!(e.contains("urii"), "{e}");
    let e = open_error(
        dir.path(),
        "uri = \"x\"\n[stores.dev.config.connect_kwargs]\napi_key = \"sk-secret\"",
    );
    assert!(e.contains("connect_kwargs.api_key"), "{e}");
    assert!(!e.contains("sk-secret"), "a secret leaked: {e}");
    let e = open_error(dir.path(), "uri = \"\"");
    assert!(e.contains("uri"), "{e}");
    let e = open_error(dir.path(), "uri = \"db://my-cloud-db\"");
    assert!(e.contains("db://"), "{e}");
    if !cfg!(feature = "aws") {
        let e = open_error(dir.path(), "uri = \"s3://bucket/prefix\"");
        assert!(e.contains("`aws` feature"), "{e}");
    }
}

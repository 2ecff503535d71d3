//! The shared behaviour suite and the golden cases on Delta tables in S3 (moto_server on
//! loopback, see `common`), plus S3-specific behaviour: bad endpoints and buckets fail on
//! open with the store named, and credentials never appear in messages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use metaxy_conformance::suite::{batch, int_set};
use metaxy_conformance::{BackendFactory, golden};
use metaxy_core::{AccessMode, Backend, FeatureGraph, MetadataStore, ReadOptions, Result};
use metaxy_delta::DeltaBackend;

const BUCKET: &str = "metaxy-test";

/// A fresh prefix in the test bucket per backend.
struct S3Prefix {
    endpoint: String,
    next: AtomicUsize,
}

#[async_trait::async_trait]
impl BackendFactory for S3Prefix {
    fn name(&self) -> String {
        "delta-s3".into()
    }

    async fn fresh(&self) -> Result<Arc<dyn Backend>> {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let config = common::s3_config(&self.endpoint, BUCKET, &format!("run/{n}"));
        Ok(Arc::new(DeltaBackend::new(config)?))
    }
}

fn graph() -> FeatureGraph {
    FeatureGraph::from_json(
        &serde_json::json!([{"key": "s3/items", "id_columns": ["id"], "fields": ["default"]}]),
        Some(8),
    )
    .unwrap()
}

async fn open_error(backend: DeltaBackend) -> String {
    let store = MetadataStore::new(Arc::new(backend), graph());
    match store.open(AccessMode::Read).await {
        Ok(_) => panic!("opening should fail"),
        Err(e) => e.to_string(),
    }
}

/// A wrong endpoint or a missing bucket is reported on open, naming the store; the secret
/// key never appears.
async fn open_errors(f: &S3Prefix) {
    let secret = "s3cr3t-never-shown";
    let unreachable = common::s3_config("http://127.0.0.1:1", BUCKET, "x")
        .with_storage_option("AWS_SECRET_ACCESS_KEY", secret);
    let e = open_error(DeltaBackend::new(unreachable).unwrap()).await;
    assert!(e.contains("s3://metaxy-test/x"), "{e}");
    assert!(!e.contains(secret), "{e}");

    let no_bucket = common::s3_config(&f.endpoint, "no-such-bucket", "x")
        .with_storage_option("AWS_SECRET_ACCESS_KEY", secret);
    let backend = DeltaBackend::new(no_bucket).unwrap();
    assert!(!format!("{backend:?}").contains(secret));
    let e = open_error(backend).await;
    assert!(e.contains("no-such-bucket"), "{e}");
    assert!(!e.contains(secret), "{e}");
}

/// Tables are laid out as `<prefix>/<part>/<part>.delta` in the bucket.
async fn nested_layout_in_the_bucket(f: &S3Prefix) {
    let backend =
        Arc::new(DeltaBackend::new(common::s3_config(&f.endpoint, BUCKET, "layout")).unwrap());
    let store = MetadataStore::new(backend.clone(), graph());
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write(
            "s3/items",
            batch(serde_json::json!([{"id": 1, "metaxy_provenance_by_field": {"default": "a"}}])),
        )
        .await
        .unwrap();
    assert_eq!(
        backend.list_tables().await.unwrap(),
        vec!["s3__items".to_string()]
    );
    let listing = reqwest::get(format!(
        "{}/{BUCKET}?prefix=layout/s3/items.delta/_delta_log/",
        f.endpoint
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(listing.contains("00000000000000000000.json"), "{listing}");
    let rows = store.read("s3/items", ReadOptions::new()).await.unwrap();
    assert_eq!(int_set(&rows, "id"), [1].into());
}

fn main() {
    let args = Arguments::from_args();
    let binary = common::moto_binary();
    if binary.is_none() {
        eprintln!(
            "\n*** Delta S3 tests SKIPPED: {} ***\n",
            common::skip_reason()
        );
    }
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
    );
    let moto = binary.as_deref().map(common::Moto::start);
    if let Some(m) = &moto {
        runtime.block_on(m.create_bucket(BUCKET));
    }
    let factory = Arc::new(S3Prefix {
        endpoint: moto
            .as_ref()
            .map(|m| m.endpoint.clone())
            .unwrap_or_default(),
        next: AtomicUsize::new(0),
    });
    let enabled = moto.is_some();
    let reason = common::skip_reason();
    let mut trials = Vec::new();
    let mut add =
        |name: &str, job: Box<dyn FnOnce(Arc<S3Prefix>, Arc<tokio::runtime::Runtime>) + Send>| {
            let (factory, runtime, reason) = (factory.clone(), runtime.clone(), reason.clone());
            trials.push(Trial::ignorable_test(name.to_string(), move || {
                if !enabled {
                    return Ok(Completion::ignored_with(reason));
                }
                job(factory, runtime);
                Ok::<_, Failed>(Completion::Completed)
            }));
        };
    for t in metaxy_conformance::suite::all() {
        add(
            t.name,
            Box::new(move |f, rt| rt.block_on((t.run)(f.as_ref()))),
        );
    }
    add(
        "golden_cases",
        Box::new(|f, rt| {
            // The 18 shared cases; the 100 recorded ones run on a local directory
            // (tests/conformance.rs) — through moto they would take minutes and exercise
            // the same code paths.
            let dir =
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/golden");
            let files = golden::collect_case_files(&[dir]).unwrap();
            assert!(files.len() >= 18);
            let failures: Vec<String> = rt
                .block_on(golden::run_files(&files, f.as_ref()))
                .into_iter()
                .filter_map(|o| o.failure.map(|m| format!("{}: {m}", o.name)))
                .collect();
            assert!(failures.is_empty(), "{}", failures.join("\n"));
        }),
    );
    add(
        "open_errors",
        Box::new(|f, rt| rt.block_on(open_errors(&f))),
    );
    add(
        "nested_layout_in_the_bucket",
        Box::new(|f, rt| rt.block_on(nested_layout_in_the_bucket(&f))),
    );
    let conclusion = libtest_mimic::run(&args, trials);
    drop(moto);
    conclusion.exit();
}

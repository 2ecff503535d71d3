//! The behaviour suite and the golden cases on the in-memory backend.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use metaxy_conformance::{MemoryFactory, golden};

metaxy_conformance::backend_tests!(MemoryFactory);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_cases() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("golden");
    let files = golden::collect_case_files(&[dir.clone(), dir.join("recorded")]).unwrap();
    assert!(files.len() >= 118, "the committed golden cases are missing");
    let failures: Vec<String> = golden::run_files(&files, &MemoryFactory)
        .await
        .into_iter()
        .filter_map(|o| o.failure.map(|f| format!("{}: {f}", o.name)))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

//! The shared behaviour suite and the golden cases on a LanceDB database in a local directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use metaxy_conformance::{BackendFactory, golden};
use metaxy_core::{Backend, Result};
use metaxy_lancedb::LanceDbBackend;

/// A LanceDB database in a fresh temporary directory per test.
struct LocalDir;

#[async_trait::async_trait]
impl BackendFactory for LocalDir {
    fn name(&self) -> String {
        "lancedb".into()
    }

    async fn fresh(&self) -> Result<Arc<dyn Backend>> {
        Ok(Arc::new(LanceDbBackend::temporary()?))
    }
}

metaxy_conformance::backend_tests!(LocalDir);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_cases() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/golden");
    let files = golden::collect_case_files(&[dir.clone(), dir.join("recorded")]).unwrap();
    assert!(files.len() >= 118, "the committed golden cases are missing");
    let failures: Vec<String> = golden::run_files(&files, &LocalDir)
        .await
        .into_iter()
        .filter_map(|o| o.failure.map(|f| format!("{}: {f}", o.name)))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

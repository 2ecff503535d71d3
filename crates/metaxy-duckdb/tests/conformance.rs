//! The shared behaviour suite and the golden cases on DuckDB, with the versioning pushdown (the
//! default) and without it, and the pushdown against the core engine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use metaxy_conformance::{BackendFactory, golden};
use metaxy_core::{Backend, Result};
use metaxy_duckdb::DuckDbBackend;

/// A DuckDB file in a fresh temporary directory per test.
struct DuckDbFile {
    pushdown: bool,
}

#[async_trait::async_trait]
impl BackendFactory for DuckDbFile {
    fn name(&self) -> String {
        if self.pushdown {
            "duckdb".into()
        } else {
            "duckdb (pushdown off)".into()
        }
    }

    async fn fresh(&self) -> Result<Arc<dyn Backend>> {
        Ok(Arc::new(
            DuckDbBackend::temporary()?.with_pushdown(self.pushdown),
        ))
    }
}

const PUSHDOWN: DuckDbFile = DuckDbFile { pushdown: true };
const CORE_ENGINE: DuckDbFile = DuckDbFile { pushdown: false };

metaxy_conformance::backend_tests!(PUSHDOWN);

/// The same suite with every resolve computed in the core engine.
mod core_engine {
    use super::*;
    metaxy_conformance::backend_tests!(CORE_ENGINE);
}

async fn golden_cases(factory: &DuckDbFile) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/golden");
    let files = golden::collect_case_files(&[dir.clone(), dir.join("recorded")]).unwrap();
    assert!(files.len() >= 118, "the committed golden cases are missing");
    let failures: Vec<String> = golden::run_files(&files, factory)
        .await
        .into_iter()
        .filter_map(|o| o.failure.map(|f| format!("{}: {f}", o.name)))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_cases_pushed_down() {
    golden_cases(&PUSHDOWN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_cases_in_the_core_engine() {
    golden_cases(&CORE_ENGINE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushdown_matches_core_engine() {
    metaxy_conformance::pushdown::pushdown_matches_core_engine(&PUSHDOWN).await;
}

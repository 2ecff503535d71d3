//! PostgreSQL tests against a real server: the shared behaviour suite, the golden cases, and
//! PostgreSQL-specific behaviour (connection errors, concurrent writers, masked passwords).
//!
//! The server comes from `METAXY_TEST_POSTGRES_URL` (CI sets it to
//! `postgres://postgres@127.0.0.1:5432/test`). Without it, every test is reported as
//! *ignored* with the reason, and a banner says so. Each test runs in its own schema, dropped
//! at the end of the run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use metaxy_conformance::suite::{batch, int_set};
use metaxy_conformance::{BackendFactory, golden};
use metaxy_core::{AccessMode, Backend, FeatureGraph, MetadataStore, ReadOptions, Result};
use metaxy_postgres::{PostgresBackend, PostgresConfig, TemporarySchemas};

const URL_VAR: &str = "METAXY_TEST_POSTGRES_URL";

/// One schema per backend, dropped at the end of the run.
struct SchemaPerTest {
    url: String,
    schemas: Arc<TemporarySchemas>,
    /// Whether backends push resolves down (md5 / sha256) or leave them to the core engine.
    pushdown: bool,
}

impl SchemaPerTest {
    async fn new_schema(&self) -> String {
        self.schemas.create().await.unwrap()
    }

    /// The same server and schemas, every resolve in the core engine.
    fn core_engine(&self) -> SchemaPerTest {
        SchemaPerTest {
            url: self.url.clone(),
            schemas: self.schemas.clone(),
            pushdown: false,
        }
    }
}

#[async_trait::async_trait]
impl BackendFactory for SchemaPerTest {
    fn name(&self) -> String {
        if self.pushdown {
            "postgres".into()
        } else {
            "postgres (pushdown off)".into()
        }
    }

    async fn fresh(&self) -> Result<Arc<dyn Backend>> {
        Ok(Arc::new(
            self.schemas.backend().await?.with_pushdown(self.pushdown),
        ))
    }

    async fn finish(&self) -> Result<()> {
        self.schemas.drop_all().await
    }
}

fn graph() -> FeatureGraph {
    FeatureGraph::from_json(
        &serde_json::json!([{"key": "pg/items", "id_columns": ["id"], "fields": ["default"]}]),
        Some(8),
    )
    .unwrap()
}

fn items(ids: std::ops::Range<i64>) -> arrow_array::RecordBatch {
    batch(serde_json::Value::Array(
        ids.map(|id| serde_json::json!({"id": id, "metaxy_provenance_by_field": {"default": format!("p{id}")}}))
            .collect(),
    ))
}

async fn open_err(config: PostgresConfig, mode: AccessMode) -> String {
    let store = MetadataStore::new(Arc::new(PostgresBackend::new(config)), graph());
    match store.open(mode).await {
        Ok(_) => panic!("opening should fail"),
        Err(e) => e.to_string(),
    }
}

async fn connection_errors(f: &SchemaPerTest) {
    // nothing listens on port 1
    let e = open_err(
        PostgresConfig::url("postgres://postgres@127.0.0.1:1/test"),
        AccessMode::Read,
    )
    .await;
    assert!(
        e.contains("cannot connect") && e.contains("127.0.0.1:1"),
        "{e}"
    );
    assert!(!e.contains('\n'), "one line: {e}");
    // a wrong password: a role with a password over md5/scram; with trust auth the server
    // accepts any password, so create a role that requires one when the server enforces it
    let e = open_err(
        PostgresConfig::url(f.url.replace("://", "://no_such_role_xyz:wrong@")),
        AccessMode::Read,
    )
    .await;
    assert!(
        e.contains("authentication failed") || e.contains("no_such_role_xyz"),
        "a wrong user/password names the problem: {e}"
    );
    assert!(!e.contains(":wrong@"), "the password is masked: {e}");
    let e = open_err(
        PostgresConfig::url(&f.url).with_schema("metaxy_no_such_schema"),
        AccessMode::Write,
    )
    .await;
    assert!(
        e.contains("schema `metaxy_no_such_schema` does not exist") && e.contains("create_schema"),
        "{e}"
    );
}

async fn create_schema_on_request(f: &SchemaPerTest) {
    let name = format!("metaxy_test_{}_created", std::process::id());
    f.schemas.remember(name.clone());
    let config = PostgresConfig {
        create_schema: true,
        ..PostgresConfig::url(&f.url).with_schema(&name)
    };
    let store = MetadataStore::new(Arc::new(PostgresBackend::new(config)), graph());
    let _g = store.open(AccessMode::Write).await.unwrap();
    store.write("pg/items", items(0..3)).await.unwrap();
    assert_eq!(
        store
            .read("pg/items", ReadOptions::new())
            .await
            .unwrap()
            .num_rows(),
        3
    );
}

async fn concurrent_writers(f: &SchemaPerTest) {
    let schema = f.new_schema().await;
    let mut tasks = Vec::new();
    for w in 0..6i64 {
        let url = f.url.clone();
        let schema = schema.clone();
        tasks.push(tokio::spawn(async move {
            let backend = PostgresBackend::new(PostgresConfig::url(url).with_schema(schema));
            let store = MetadataStore::new(Arc::new(backend), graph());
            let _g = store.open(AccessMode::Write).await.unwrap();
            for i in 0..10 {
                let start = (w * 10 + i) * 50;
                store
                    .write("pg/items", items(start..start + 50))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let store = MetadataStore::new(
        Arc::new(PostgresBackend::new(
            PostgresConfig::url(&f.url).with_schema(schema),
        )),
        graph(),
    );
    let _g = store.open(AccessMode::Read).await.unwrap();
    let all = store.read("pg/items", ReadOptions::new()).await.unwrap();
    assert_eq!(int_set(&all, "id"), (0..3000).collect::<BTreeSet<i64>>());
}

async fn hostile_identifiers_and_values(f: &SchemaPerTest) {
    let schema = format!("{}; DROP SCHEMA public", f.new_schema().await);
    f.schemas.remember(schema.clone());
    let config = PostgresConfig {
        create_schema: true,
        ..PostgresConfig::url(&f.url).with_schema(&schema)
    };
    let store = MetadataStore::new(Arc::new(PostgresBackend::new(config)), graph());
    let _g = store.open(AccessMode::Write).await.unwrap();
    let rows = batch(serde_json::json!([
        {"id": 1, "we\"ird col": "x'); DROP TABLE t; --", "metaxy_provenance_by_field": {"default": "p"}},
    ]));
    store.write("pg/items", rows).await.unwrap();
    let hit = store
        .read(
            "pg/items",
            ReadOptions::new()
                .filter_sql("\"we\"\"ird col\" = 'x''); DROP TABLE t; --'")
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(hit.num_rows(), 1);
}

/// Every golden case (40 of them hash with md5 or sha256, which PostgreSQL pushes down).
fn golden_cases(f: &SchemaPerTest, rt: &tokio::runtime::Runtime) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/golden");
    let files = golden::collect_case_files(&[dir.clone(), dir.join("recorded")]).unwrap();
    assert!(files.len() >= 118);
    let failures: Vec<String> = rt
        .block_on(golden::run_files(&files, f))
        .into_iter()
        .filter_map(|o| o.failure.map(|m| format!("{}: {m}", o.name)))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// With md5 the resolve runs in PostgreSQL and sends back only the increment's rows; with
/// xxhash64 (no server-side implementation) it runs in the core engine.
async fn only_the_increment_leaves_postgres(f: &SchemaPerTest) {
    use metaxy_core::store::StoreSettings;
    use metaxy_core::{HashAlgorithm, ResolveOptions};
    let graph = FeatureGraph::from_json(
        &serde_json::json!([
            {"key": "pg/raw", "id_columns": ["id"], "fields": ["default"]},
            {"key": "pg/clip", "id_columns": ["id"], "deps": [{"feature": "pg/raw"}], "fields": ["default"]},
        ]),
        Some(8),
    )
    .unwrap();
    for (algorithm, pushed) in [(HashAlgorithm::Md5, true), (HashAlgorithm::Xxhash64, false)] {
        let schema = f.new_schema().await;
        let backend = Arc::new(PostgresBackend::new(
            PostgresConfig::url(&f.url).with_schema(schema),
        ));
        let store = MetadataStore::with_settings(
            backend.clone(),
            graph.clone(),
            StoreSettings {
                hash_algorithm: algorithm,
                ..StoreSettings::default()
            },
        );
        let _g = store.open(AccessMode::Write).await.unwrap();
        let raw = |ids: std::ops::Range<i64>, tag: &str| {
            batch(serde_json::Value::Array(
                ids.map(|id| serde_json::json!({"id": id, "metaxy_provenance_by_field": {"default": format!("{tag}{id}")}}))
                    .collect(),
            ))
        };
        store.write("pg/raw", raw(0..5000, "p")).await.unwrap();
        let inc = store
            .resolve_update("pg/clip", ResolveOptions::new())
            .await
            .unwrap();
        store.write("pg/clip", inc.new).await.unwrap();
        store.write("pg/raw", raw(10..30, "q")).await.unwrap();
        let before = backend.pushdown_stats().rows();
        let inc = store
            .resolve_update("pg/clip", ResolveOptions::new())
            .await
            .unwrap();
        assert_eq!(inc.stale.num_rows(), 20, "{algorithm}");
        let stats = backend.pushdown_stats();
        if pushed {
            assert_eq!(
                stats.queries(),
                2,
                "{algorithm}: both resolves ran in PostgreSQL"
            );
            assert_eq!(
                stats.rows() - before,
                20,
                "{algorithm}: only the 20 stale rows came back"
            );
        } else {
            assert_eq!(
                stats.queries(),
                0,
                "{algorithm} is computed in the core engine"
            );
        }
    }
}

fn main() {
    let args = Arguments::from_args();
    let url = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!(
            "\n*** PostgreSQL tests SKIPPED: {URL_VAR} is not set. Run them with \
             {URL_VAR}=postgres://postgres@127.0.0.1:5432/test (CI does). ***\n"
        );
    }
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
    );
    let factory = Arc::new(SchemaPerTest {
        url: url.clone().unwrap_or_default(),
        schemas: Arc::new(TemporarySchemas::new(url.clone().unwrap_or_default())),
        pushdown: true,
    });
    let reason = format!("{URL_VAR} is not set");
    let mut trials = Vec::new();
    let mut add =
        |name: &str,
         job: Box<dyn FnOnce(Arc<SchemaPerTest>, Arc<tokio::runtime::Runtime>) + Send>| {
            let (factory, runtime, reason, enabled) = (
                factory.clone(),
                runtime.clone(),
                reason.clone(),
                url.is_some(),
            );
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
        Box::new(|f, rt| golden_cases(f.as_ref(), &rt)),
    );
    add(
        "golden_cases_in_the_core_engine",
        Box::new(|f, rt| golden_cases(&f.core_engine(), &rt)),
    );
    add(
        "pushdown_matches_core_engine",
        Box::new(|f, rt| {
            rt.block_on(metaxy_conformance::pushdown::pushdown_matches_core_engine(
                f.as_ref(),
            ))
        }),
    );
    add(
        "only_the_increment_leaves_postgres",
        Box::new(|f, rt| rt.block_on(only_the_increment_leaves_postgres(&f))),
    );
    add(
        "connection_errors",
        Box::new(|f, rt| rt.block_on(connection_errors(&f))),
    );
    add(
        "create_schema_on_request",
        Box::new(|f, rt| rt.block_on(create_schema_on_request(&f))),
    );
    add(
        "concurrent_writers",
        Box::new(|f, rt| rt.block_on(concurrent_writers(&f))),
    );
    add(
        "hostile_identifiers_and_values",
        Box::new(|f, rt| rt.block_on(hostile_identifiers_and_values(&f))),
    );
    let conclusion = libtest_mimic::run(&args, trials);
    if url.is_some() {
        runtime.block_on(factory.schemas.drop_all()).unwrap();
    }
    conclusion.exit();
}

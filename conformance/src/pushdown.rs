//! The versioning pushdown against the core engine: the same writes, deletes and resolves on a
//! pushdown backend and on the in-memory reference backend (core engine only) must give the
//! same increments, column for column and row for row, for every algorithm the backend pushes
//! down, with and without truncation.
//!
//! The scenario covers what the SQL reproduces: renames, select, dependency filters, an
//! optional dependency, rewrites (latest row wins), soft deletes, new, stale and orphaned
//! samples, and read filters on the upstream, the target and globally.

use std::sync::Arc;

use metaxy_core::store::StoreSettings;
use metaxy_core::{
    AccessMode, Backend, DeleteOptions, Expr, FeatureGraph, HashAlgorithm, Increment,
    MemoryBackend, MetadataStore, ResolveOptions, columns,
};
use serde_json::{Value, json};

use crate::factory::BackendFactory;
use crate::suite::{batch, rows};

fn graph(truncation: Option<usize>) -> FeatureGraph {
    FeatureGraph::from_json(
        &json!([
            {"key": "pd/video", "id_columns": ["sample_uid"], "fields": ["audio", "frames"]},
            {"key": "pd/meta", "id_columns": ["sample_uid"], "fields": ["default"]},
            {"key": "pd/crop", "id_columns": ["sample_uid"],
             "deps": [{"feature": "pd/video", "rename": {"title": "video_title"}},
                      {"feature": "pd/meta", "optional": true, "select": ["lang"]}],
             "fields": [{"key": "audio", "code_version": "2"}, "frames"]},
            {"key": "pd/large", "id_columns": ["sample_uid"],
             "deps": [{"feature": "pd/video", "select": ["size"], "sql_filters": ["size >= 10"]}],
             "fields": ["audio"]},
        ]),
        truncation,
    )
    .expect("the pushdown scenario graph is valid")
}

fn videos(ids: impl Iterator<Item = i64>, audio: &str, frames: &str) -> Value {
    Value::Array(
        ids.map(|i| {
            json!({"sample_uid": i, "title": format!("t{i}"), "size": i,
                   "metaxy_provenance_by_field": {"audio": format!("{audio}{i}"), "frames": format!("{frames}{i}")}})
        })
        .collect(),
    )
}

fn metas(ids: impl Iterator<Item = i64>, tag: &str) -> Value {
    Value::Array(
        ids.map(|i| {
            json!({"sample_uid": i, "lang": if i % 4 == 0 { "en" } else { "de" },
                   "metaxy_provenance_by_field": {"default": format!("{tag}{i}")}})
        })
        .collect(),
    )
}

/// An increment as comparable text: column names and types, then every row without the
/// write timestamps (the two stores write at different instants), sorted.
fn canonical(inc: &Increment) -> Vec<String> {
    let mut out = Vec::new();
    for (part, b) in [
        ("new", &inc.new),
        ("stale", &inc.stale),
        ("orphaned", &inc.orphaned),
    ] {
        let schema: Vec<String> = b
            .schema()
            .fields()
            .iter()
            .map(|f| format!("{}: {}", f.name(), f.data_type()))
            .collect();
        out.push(format!("{part} columns {}", schema.join(", ")));
        let mut lines: Vec<String> = rows(b)
            .into_iter()
            .map(|mut r| {
                r.remove(columns::UPDATED_AT);
                r.remove(columns::CREATED_AT);
                format!("{part} {}", Value::Object(r))
            })
            .collect();
        lines.sort();
        out.extend(lines);
    }
    out
}

struct Pair {
    tested: MetadataStore,
    reference: MetadataStore,
}

impl Pair {
    async fn write(&self, key: &str, rows: &Value) {
        for s in [&self.tested, &self.reference] {
            s.write(key, batch(rows.clone())).await.expect("write");
        }
    }

    async fn soft_delete(&self, key: &str, filter: &str) {
        for s in [&self.tested, &self.reference] {
            s.delete(
                key,
                Some(Expr::parse(filter).expect("filter")),
                DeleteOptions::default(),
            )
            .await
            .expect("soft delete");
        }
    }

    /// Resolves on both stores, asserts equality, and returns the increment.
    async fn resolve(&self, key: &str, options: ResolveOptions, what: &str) -> Increment {
        let got = self
            .tested
            .resolve_update(key, options.clone())
            .await
            .expect("resolve on the tested backend");
        let want = self
            .reference
            .resolve_update(key, options)
            .await
            .expect("resolve in the core engine");
        let (g, w) = (canonical(&got), canonical(&want));
        if g != w {
            let diff: Vec<String> = g
                .iter()
                .filter(|l| !w.contains(l))
                .map(|l| format!("  only pushed down: {l}"))
                .chain(
                    w.iter()
                        .filter(|l| !g.contains(l))
                        .map(|l| format!("  only core:        {l}")),
                )
                .collect();
            panic!(
                "{what}: the pushdown differs from the core engine\n{}",
                diff.join("\n")
            );
        }
        got
    }

    /// Resolves and writes the `new` and `stale` samples as computed.
    async fn materialize(&self, key: &str, what: &str) {
        let inc = self.resolve(key, ResolveOptions::new(), what).await;
        for s in [&self.tested, &self.reference] {
            let inc = s
                .resolve_update(key, ResolveOptions::new())
                .await
                .expect("resolve");
            for part in [inc.new, inc.stale] {
                if part.num_rows() > 0 {
                    s.write(key, part)
                        .await
                        .expect("write the computed samples");
                }
            }
        }
        assert!(
            inc.new.num_rows() + inc.stale.num_rows() > 0,
            "{what}: the scenario should produce work"
        );
    }
}

/// Runs the scenario for every algorithm the factory's backends push down (at least one).
pub async fn pushdown_matches_core_engine(f: &dyn BackendFactory) {
    let probe: Arc<dyn Backend> = f.fresh().await.expect("a fresh backend");
    let algorithms = probe.capabilities().pushdown_hash_algorithms;
    assert!(
        !algorithms.is_empty() && probe.sql_pushdown().is_some(),
        "{} does not push resolves down; this test is for pushdown backends",
        f.name()
    );
    for algorithm in algorithms {
        for truncation in [Some(8), None] {
            scenario(f, algorithm, truncation).await;
        }
    }
}

async fn scenario(f: &dyn BackendFactory, algorithm: HashAlgorithm, truncation: Option<usize>) {
    let settings = StoreSettings {
        hash_algorithm: algorithm,
        ..StoreSettings::default()
    };
    let pair = Pair {
        tested: MetadataStore::with_settings(
            f.fresh().await.expect("a fresh backend"),
            graph(truncation),
            settings.clone(),
        ),
        reference: MetadataStore::with_settings(
            Arc::new(MemoryBackend::new()),
            graph(truncation),
            settings,
        ),
    };
    let _g1 = pair.tested.open(AccessMode::Write).await.expect("open");
    let _g2 = pair.reference.open(AccessMode::Write).await.expect("open");
    let at = |step: &str| format!("{algorithm} truncation {truncation:?}, {step}");

    pair.write("pd/video", &videos(0..40, "a", "f")).await;
    pair.write("pd/meta", &metas((0..40).step_by(2), "m")).await;
    pair.materialize("pd/crop", &at("first crop")).await;
    pair.materialize("pd/large", &at("first large")).await;
    // nothing changed: empty increments
    let inc = pair
        .resolve("pd/crop", ResolveOptions::new(), &at("unchanged"))
        .await;
    assert_eq!(
        inc.new.num_rows() + inc.stale.num_rows() + inc.orphaned.num_rows(),
        0,
        "{}",
        at("unchanged")
    );

    // rewrites (audio of 0..5, frames of 5..8), an optional parent changing and appearing,
    // soft deletes, new samples
    pair.write("pd/video", &videos(0..5, "a2_", "f")).await;
    pair.write("pd/video", &videos(5..8, "a", "f2_")).await;
    pair.write("pd/meta", &metas([10, 11].into_iter(), "m2_"))
        .await;
    pair.soft_delete("pd/video", "sample_uid >= 30 AND sample_uid < 33")
        .await;
    pair.write("pd/video", &videos(40..45, "a", "f")).await;

    let inc = pair
        .resolve("pd/crop", ResolveOptions::new(), &at("after changes"))
        .await;
    assert!(
        inc.new.num_rows() == 5 && inc.stale.num_rows() >= 8 && inc.orphaned.num_rows() == 3,
        "{}: new {}, stale {}, orphaned {}",
        at("after changes"),
        inc.new.num_rows(),
        inc.stale.num_rows(),
        inc.orphaned.num_rows()
    );
    pair.resolve(
        "pd/large",
        ResolveOptions::new(),
        &at("large after changes"),
    )
    .await;
    let filtered = ResolveOptions::new()
        .global_filter(Expr::parse("sample_uid < 20").expect("filter"))
        .filter("pd/video", Expr::parse("size > 3").expect("filter"))
        .expect("key");
    pair.resolve("pd/crop", filtered.clone(), &at("filtered crop"))
        .await;
    pair.resolve("pd/large", filtered, &at("filtered large"))
        .await;
    let own = ResolveOptions::new()
        .filter("pd/crop", Expr::parse("sample_uid <> 4").expect("filter"))
        .expect("key");
    pair.resolve("pd/crop", own, &at("target's own filter"))
        .await;
}

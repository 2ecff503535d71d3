//! Filters on reads and on resolve_update (reference FilterTests).

use metaxy_core::{AccessMode, Error, Expr, ReadOptions, ResolveOptions};
use serde_json::json;

use super::*;

fn expr(sql: &str) -> Expr {
    Expr::parse(sql).unwrap()
}

/// people/raw (root, `age`, `name`) → people/child (selects and filters on age).
fn people_graph(dep_filters: Option<Vec<&str>>) -> FeatureGraph {
    FeatureGraph::from_json(
        &json!([
            {"key": "people/raw", "id_columns": ["sample_uid"], "fields": ["profile"]},
            {"key": "people/child", "id_columns": ["sample_uid"],
             "deps": [{"feature": "people/raw", "sql_filters": dep_filters}],
             "fields": [{"key": "profile", "code_version": "1"}]},
        ]),
        Some(8),
    )
    .unwrap()
}

fn people() -> RecordBatch {
    batch(json!([
        {"sample_uid": 1, "age": 20, "name": "ann", "metaxy_provenance_by_field": {"profile": "p1"}},
        {"sample_uid": 2, "age": 30, "name": "bob", "metaxy_provenance_by_field": {"profile": "p2"}},
        {"sample_uid": 3, "age": 40, "name": "cy", "metaxy_provenance_by_field": {"profile": "p3"}},
        {"sample_uid": 4, "age": 25, "name": "dee", "metaxy_provenance_by_field": {"profile": "p4"}},
    ]))
}

/// A read filter on the feature's own column.
pub async fn filters_read_on_own_column(f: &dyn BackendFactory) {
    let store = store(f, people_graph(None)).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store.write("people/raw", people()).await.unwrap();
    let older = store
        .read("people/raw", ReadOptions::new().filter(expr("age >= 30")))
        .await
        .unwrap();
    assert_eq!(int_set(&older, "sample_uid"), set([2, 3]));
    let named = store
        .read(
            "people/raw",
            ReadOptions::new().filter(expr("name IN ('ann', 'cy')")),
        )
        .await
        .unwrap();
    assert_eq!(int_set(&named, "sample_uid"), set([1, 3]));
}

/// Columns and filters may name different columns; the result has exactly the columns.
pub async fn filters_read_columns_and_other_column(f: &dyn BackendFactory) {
    let store = store(f, people_graph(None)).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store.write("people/raw", people()).await.unwrap();
    let b = store
        .read(
            "people/raw",
            ReadOptions::new()
                .columns(["name"])
                .filter(expr("age < 30")),
        )
        .await
        .unwrap();
    let names: Vec<String> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, vec!["name"]);
    assert_eq!(
        str_set(&b, "name"),
        ["ann", "dee"].iter().map(|s| s.to_string()).collect()
    );
}

/// A target filter may use a column only the downstream feature has.
pub async fn filters_target_child_only_column(f: &dyn BackendFactory) {
    let store = store(f, people_graph(None)).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store.write("people/raw", people()).await.unwrap();
    let inc = store
        .resolve_update("people/child", ResolveOptions::new())
        .await
        .unwrap();
    let mut rows = inc.new.clone();
    // 1 and 3 are reviewed (by id: the increment's row order is not part of the contract)
    let reviewed: Vec<bool> = column(&rows, "sample_uid")
        .iter()
        .map(|id| id.as_i64().unwrap() % 2 == 1)
        .collect();
    rows = metaxy_core::batches::with_column(
        &rows,
        "reviewed",
        std::sync::Arc::new(arrow_array::BooleanArray::from(reviewed)),
    )
    .unwrap();
    store.write("people/child", rows).await.unwrap();
    // change upstream of 1 and 2
    store
        .write(
            "people/raw",
            batch(json!([
                {"sample_uid": 1, "age": 20, "name": "ann", "metaxy_provenance_by_field": {"profile": "p1b"}},
                {"sample_uid": 2, "age": 30, "name": "bob", "metaxy_provenance_by_field": {"profile": "p2b"}},
            ])),
        )
        .await
        .unwrap();
    let options = ResolveOptions::new().target_filter(expr("reviewed"));
    let inc = store.resolve_update("people/child", options).await.unwrap();
    // only reviewed samples (1, 3) are considered: 1 is stale, nothing is new or orphaned
    assert_eq!(int_set(&inc.stale, "sample_uid"), set([1]));
    assert_eq!(inc.new.num_rows(), 0);
    assert_eq!(inc.orphaned.num_rows(), 0);
}

/// A global filter must apply to every upstream and the target: a column only the
/// downstream feature has fails.
pub async fn filters_global_child_only_column_fails(f: &dyn BackendFactory) {
    let store = store(f, people_graph(None)).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store.write("people/raw", people()).await.unwrap();
    let e = store
        .resolve_update(
            "people/child",
            ResolveOptions::new().global_filter(expr("reviewed = TRUE")),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::FilterEval { .. }), "{e}");
    assert!(e.to_string().contains("reviewed"), "{e}");
}

/// Dependency filters limit which upstream samples take part.
pub async fn filters_dependency_filters(f: &dyn BackendFactory) {
    let store = store(f, people_graph(Some(vec!["age >= 25", "name != 'cy'"]))).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store.write("people/raw", people()).await.unwrap();
    let inc = store
        .resolve_update("people/child", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(int_set(&inc.new, "sample_uid"), set([2, 4]));
    store.write("people/child", inc.new).await.unwrap();
    // sample 1 becomes old enough: new; sample 2 becomes too young: orphaned
    store
        .write(
            "people/raw",
            batch(json!([
                {"sample_uid": 1, "age": 26, "name": "ann", "metaxy_provenance_by_field": {"profile": "p1"}},
                {"sample_uid": 2, "age": 10, "name": "bob", "metaxy_provenance_by_field": {"profile": "p2"}},
            ])),
        )
        .await
        .unwrap();
    let inc = store
        .resolve_update("people/child", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(int_set(&inc.new, "sample_uid"), set([1]));
    assert_eq!(int_set(&inc.orphaned, "sample_uid"), set([2]));
    assert_eq!(inc.stale.num_rows(), 0);
}

/// `filters[target]` restrict only the stored side (Metaxy's semantics: filtered-out samples
/// come back as new); `target_filters` restrict both sides.
pub async fn filters_target_vs_own_filters(f: &dyn BackendFactory) {
    let store = store(f, people_graph(None)).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store.write("people/raw", people()).await.unwrap();
    let inc = store
        .resolve_update("people/child", ResolveOptions::new())
        .await
        .unwrap();
    store.write("people/child", inc.new).await.unwrap();

    let own = ResolveOptions::new()
        .filter("people/child", expr("age >= 30"))
        .unwrap();
    let inc = store.resolve_update("people/child", own).await.unwrap();
    assert_eq!(
        int_set(&inc.new, "sample_uid"),
        set([1, 4]),
        "the reference's quirk"
    );
    assert_eq!(inc.stale.num_rows(), 0);

    let target = ResolveOptions::new().target_filter(expr("age >= 30"));
    let inc = store.resolve_update("people/child", target).await.unwrap();
    assert_eq!(
        inc.new.num_rows(),
        0,
        "target filters restrict the expected side too"
    );
    assert_eq!(inc.orphaned.num_rows(), 0);
}

/// Global filters apply to upstream and target reads alike, and scope predicates.
pub async fn filters_global_filters_scope(f: &dyn BackendFactory) {
    let store = store(f, people_graph(None)).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store.write("people/raw", people()).await.unwrap();
    let inc = store
        .resolve_update("people/child", ResolveOptions::new())
        .await
        .unwrap();
    store.write("people/child", inc.new).await.unwrap();
    let options = ResolveOptions::new()
        .global_filter(expr("sample_uid <= 2"))
        .stale_if(expr("age > 0"));
    let inc = store.resolve_update("people/child", options).await.unwrap();
    assert_eq!(int_set(&inc.stale, "sample_uid"), set([1, 2]));
    assert_eq!(inc.new.num_rows(), 0);
    assert_eq!(inc.orphaned.num_rows(), 0);
    // upstream filters per feature
    let options = ResolveOptions::new()
        .filter("people/raw", expr("sample_uid = 3"))
        .unwrap();
    let inc = store.resolve_update("people/child", options).await.unwrap();
    assert_eq!(int_set(&inc.orphaned, "sample_uid"), set([1, 2, 4]));
}

/// Malformed filters are reported as parse errors naming the filter.
pub async fn filters_malformed(f: &dyn BackendFactory) {
    let store = store(f, people_graph(None)).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store.write("people/raw", people()).await.unwrap();
    let e = ReadOptions::new().filter_sql("age >>> 3").unwrap_err();
    assert!(matches!(e, Error::FilterParse { .. }), "{e}");
    assert!(e.to_string().contains("age >>> 3"), "{e}");
    let e = store
        .read(
            "people/raw",
            ReadOptions::new().filter(expr("colour = 'red'")),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no column `colour`"), "{e}");
}

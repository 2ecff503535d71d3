//! `write` and its system columns (reference WriteTests, 2.14, 4.3).

use metaxy_core::store::StoreSettings;
use metaxy_core::{AccessMode, HashAlgorithm, ReadOptions, ResolveOptions, WriteOptions, columns};
use serde_json::json;

use super::*;

/// A root write with only `metaxy_provenance_by_field` gets every system column.
pub async fn writes_system_columns(f: &dyn BackendFactory) {
    let graph = video_graph();
    let fv = graph
        .feature_version(&"example/video".parse().unwrap())
        .unwrap()
        .to_string();
    let pv = graph.project_version();
    let store = store(f, graph).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write("example/video", video_rows(&[(1, "a1", "f1")]))
        .await
        .unwrap();
    let b = store
        .read("example/video", ReadOptions::new())
        .await
        .unwrap();
    let r = &rows(&b)[0];
    for c in columns::ALL_SYSTEM_COLUMNS {
        assert!(r.contains_key(c), "missing {c}");
    }
    assert_eq!(r[columns::FEATURE_VERSION], json!(fv));
    assert_eq!(r[columns::PROJECT_VERSION], json!(pv));
    let prov = HashAlgorithm::Xxhash64.hash_str("a1|f1", Some(8));
    assert_eq!(r[columns::PROVENANCE], json!(prov));
    assert_eq!(r[columns::DATA_VERSION], json!(prov));
    assert_eq!(
        r[columns::DATA_VERSION_BY_FIELD],
        json!({"audio": "a1", "frames": "f1"})
    );
    assert_eq!(r[columns::DELETED_AT], Value::Null);
    assert_eq!(r[columns::MATERIALIZATION_ID], Value::Null);
    assert_eq!(r["path"], json!("v1.mp4"));
    assert!(timestamps(&b, columns::CREATED_AT)[0].is_some());
    assert_eq!(
        timestamps(&b, columns::CREATED_AT),
        timestamps(&b, columns::UPDATED_AT)
    );
}

/// Materialization ids: the store default, a per-write override, NULL, and filtering by it.
pub async fn writes_materialization_id(f: &dyn BackendFactory) {
    let backend = f.fresh().await.unwrap();
    let store = MetadataStore::with_settings(
        backend,
        items_graph(),
        StoreSettings {
            materialization_id: Some("run-default".into()),
            hash_algorithm: HashAlgorithm::Xxhash64,
            ..StoreSettings::default()
        },
    );
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write("test/items", item_rows(&[(1, 1)]))
        .await
        .unwrap();
    store
        .write_with(
            "test/items",
            item_rows(&[(2, 2)]),
            WriteOptions {
                materialization_id: Some("run-2".into()),
                ..WriteOptions::default()
            },
        )
        .await
        .unwrap();
    let b = store.read("test/items", ReadOptions::new()).await.unwrap();
    let by_id: std::collections::BTreeMap<i64, Value> = rows(&b)
        .into_iter()
        .map(|r| {
            (
                r["sample_uid"].as_i64().unwrap(),
                r[columns::MATERIALIZATION_ID].clone(),
            )
        })
        .collect();
    assert_eq!(by_id[&1], json!("run-default"));
    assert_eq!(by_id[&2], json!("run-2"));
    let run2 = store
        .read(
            "test/items",
            ReadOptions::new()
                .filter_sql("metaxy_materialization_id = 'run-2'")
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(int_set(&run2, "sample_uid"), set([2]));

    // without any id the column is NULL; a user-supplied value is overwritten
    let plain = store_with(f, items_graph(), HashAlgorithm::Xxhash64).await;
    let _p = plain.open(AccessMode::Write).await.unwrap();
    let with_user_id = batch(
        json!([{"sample_uid": 1, "metaxy_materialization_id": "mine",
        "metaxy_provenance_by_field": {"default": "p"}}]),
    );
    plain.write("test/items", with_user_id).await.unwrap();
    let b = plain.read("test/items", ReadOptions::new()).await.unwrap();
    assert_eq!(column(&b, columns::MATERIALIZATION_ID), vec![Value::Null]);
}

/// Later writes win; every write stays in the history; each sample keeps its own latest.
pub async fn writes_latest_wins(f: &dyn BackendFactory) {
    let store = store(f, items_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    for v in [10, 20, 30, 40, 50] {
        store
            .write("test/items", item_rows(&[(1, v)]))
            .await
            .unwrap();
    }
    store
        .write("test/items", item_rows(&[(2, 7), (3, 8)]))
        .await
        .unwrap();
    store
        .write("test/items", item_rows(&[(3, 9)]))
        .await
        .unwrap();
    let latest = store.read("test/items", ReadOptions::new()).await.unwrap();
    let by_id: std::collections::BTreeMap<i64, i64> = rows(&latest)
        .into_iter()
        .map(|r| {
            (
                r["sample_uid"].as_i64().unwrap(),
                r["value"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(by_id, [(1, 50), (2, 7), (3, 9)].into_iter().collect());
    let history = store
        .read(
            "test/items",
            ReadOptions::new()
                .with_sample_history(true)
                .filter_sql("sample_uid = 1")
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(history.num_rows(), 5);
}

/// `write` replaces a user-supplied `metaxy_updated_at` with the write time.
pub async fn writes_overwrite_updated_at(f: &dyn BackendFactory) {
    let store = store(f, items_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    let old = batch(
        json!([{"sample_uid": 1, "metaxy_updated_at": "2000-01-01T00:00:00Z",
        "metaxy_created_at": "2000-01-01T00:00:00Z", "metaxy_provenance_by_field": {"default": "p"}}]),
    );
    store.write("test/items", old).await.unwrap();
    let b = store.read("test/items", ReadOptions::new()).await.unwrap();
    let updated = timestamps(&b, columns::UPDATED_AT)[0].unwrap();
    assert!(
        updated > 1_700_000_000_000_000,
        "updated_at is the write time, got {updated}"
    );
    assert_eq!(
        timestamps(&b, columns::CREATED_AT)[0],
        Some(946_684_800_000_000),
        "created_at is kept"
    );
}

/// A supplied `metaxy_provenance` is kept as given (as in Metaxy).
pub async fn writes_keep_given_provenance(f: &dyn BackendFactory) {
    let store = store(f, items_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    let given = batch(json!([{"sample_uid": 1, "metaxy_provenance": "custom",
        "metaxy_provenance_by_field": {"default": "p"}}]));
    store.write("test/items", given).await.unwrap();
    let b = store.read("test/items", ReadOptions::new()).await.unwrap();
    assert_eq!(column(&b, columns::PROVENANCE), vec![json!("custom")]);
    assert_eq!(column(&b, columns::DATA_VERSION), vec![json!("custom")]);
}

/// Data versions are filled row by row: NULL rows take the provenance.
pub async fn writes_data_version_filling(f: &dyn BackendFactory) {
    let store = store_with(f, video_graph(), HashAlgorithm::Xxhash32).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    let rows_in = batch(json!([
        {"sample_uid": 1, "metaxy_provenance_by_field": {"audio": "a1", "frames": "f1"},
         "metaxy_data_version_by_field": {"audio": "X", "frames": "Y"}},
        {"sample_uid": 2, "metaxy_provenance_by_field": {"audio": "a1", "frames": "f1"},
         "metaxy_data_version_by_field": null},
    ]));
    store.write("example/video", rows_in).await.unwrap();
    let b = store
        .read("example/video", ReadOptions::new())
        .await
        .unwrap();
    let by_id: std::collections::BTreeMap<i64, (Value, Value, Value)> = rows(&b)
        .into_iter()
        .map(|r| {
            (
                r["sample_uid"].as_i64().unwrap(),
                (
                    r[columns::DATA_VERSION_BY_FIELD].clone(),
                    r[columns::DATA_VERSION].clone(),
                    r[columns::PROVENANCE].clone(),
                ),
            )
        })
        .collect();
    assert_eq!(
        by_id[&1],
        (
            json!({"audio": "X", "frames": "Y"}),
            json!("22818664"),
            json!("10888532")
        )
    );
    assert_eq!(
        by_id[&2],
        (
            json!({"audio": "a1", "frames": "f1"}),
            json!("10888532"),
            json!("10888532")
        )
    );
}

/// The increment's stale-fields annotation is not stored.
pub async fn writes_drop_stale_fields(f: &dyn BackendFactory) {
    let store = store(f, video_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write("example/video", video_rows(&[(1, "a1", "f1")]))
        .await
        .unwrap();
    let inc = store
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap();
    store.write("example/crop", inc.new).await.unwrap();
    store
        .write("example/video", video_rows(&[(1, "a1b", "f1")]))
        .await
        .unwrap();
    let inc = store
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap();
    assert!(inc.stale.column_by_name(columns::STALE_FIELDS).is_some());
    store.write("example/crop", inc.stale).await.unwrap();
    let b = store
        .read("example/crop", ReadOptions::new())
        .await
        .unwrap();
    assert!(b.column_by_name(columns::STALE_FIELDS).is_none());
    let schema = store
        .backend()
        .table_schema(&"example/crop".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(schema.column_with_name(columns::STALE_FIELDS).is_none());
}

/// `preserve_feature_version` keeps given versions; otherwise the graph's are stamped.
pub async fn writes_preserve_feature_version(f: &dyn BackendFactory) {
    let store = store(f, items_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    let old = batch(
        json!([{"sample_uid": 1, "metaxy_feature_version": "oldfv", "metaxy_project_version": "oldpv",
        "metaxy_provenance_by_field": {"default": "p"}}]),
    );
    store
        .write_with(
            "test/items",
            old.clone(),
            WriteOptions {
                preserve_feature_version: true,
                ..WriteOptions::default()
            },
        )
        .await
        .unwrap();
    let kept = store
        .read("test/items", ReadOptions::new().feature_version("oldfv"))
        .await
        .unwrap();
    assert_eq!(
        column(&kept, columns::PROJECT_VERSION),
        vec![json!("oldpv")]
    );
    assert_eq!(
        store
            .read("test/items", ReadOptions::new())
            .await
            .unwrap()
            .num_rows(),
        0
    );
    store.write("test/items", old).await.unwrap();
    let current = store.read("test/items", ReadOptions::new()).await.unwrap();
    assert_eq!(
        current.num_rows(),
        1,
        "without preserve the current version is stamped"
    );
    let e = store
        .read(
            "test/items",
            ReadOptions {
                feature_version: Some("x".into()),
                ..ReadOptions::new()
            },
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("with_feature_history"), "{e}");
}

/// New user columns appear (NULL for older rows); columns a write lacks read back as NULL.
pub async fn writes_schema_evolution(f: &dyn BackendFactory) {
    let store = store(f, items_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write("test/items", item_rows(&[(1, 10)]))
        .await
        .unwrap();
    store
        .write(
            "test/items",
            batch(json!([{"sample_uid": 2, "label": "cat", "metaxy_provenance_by_field": {"default": "p2"}}])),
        )
        .await
        .unwrap();
    let b = store.read("test/items", ReadOptions::new()).await.unwrap();
    let by_id: std::collections::BTreeMap<i64, (Value, Value)> = rows(&b)
        .into_iter()
        .map(|r| {
            (
                r["sample_uid"].as_i64().unwrap(),
                (
                    r.get("value").cloned().unwrap_or(Value::Null),
                    r.get("label").cloned().unwrap_or(Value::Null),
                ),
            )
        })
        .collect();
    assert_eq!(by_id[&1], (json!(10), Value::Null));
    assert_eq!(by_id[&2], (Value::Null, json!("cat")));
}

//! Opening, modes, reading and writing basics (reference CRUDTests, access modes, display).

use metaxy_core::store::StoreSettings;
use metaxy_core::{AccessMode, Error, ReadOptions, ResolveOptions, columns};
use serde_json::json;

use super::*;

/// `has_feature` is false before the first write and true after.
pub async fn crud_has_feature(f: &dyn BackendFactory) {
    let store = store(f, items_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    assert!(!store.has_feature("test/items", false).await.unwrap());
    store
        .write("test/items", item_rows(&[(1, 10)]))
        .await
        .unwrap();
    assert!(store.has_feature("test/items", false).await.unwrap());
}

/// Every operation on a closed store fails with "must be opened before use".
pub async fn crud_requires_open(f: &dyn BackendFactory) {
    let store = store(f, items_graph()).await;
    let errs = vec![
        store
            .read("test/items", ReadOptions::new())
            .await
            .unwrap_err(),
        store
            .write("test/items", item_rows(&[(1, 1)]))
            .await
            .unwrap_err(),
        store.has_feature("test/items", false).await.unwrap_err(),
        store
            .resolve_update(
                "test/items",
                ResolveOptions::new().samples(item_rows(&[(1, 1)])),
            )
            .await
            .unwrap_err(),
    ];
    for e in errs {
        assert!(matches!(e, Error::StoreNotOpen { .. }), "{e}");
        assert!(e.to_string().contains("must be opened before use"), "{e}");
    }
}

/// Writes, deletes and drops in read mode are refused.
pub async fn crud_write_requires_write_mode(f: &dyn BackendFactory) {
    let store = store(f, items_graph()).await;
    {
        let _w = store.open(AccessMode::Write).await.unwrap();
        store
            .write("test/items", item_rows(&[(1, 1)]))
            .await
            .unwrap();
    }
    let _r = store.open(AccessMode::Read).await.unwrap();
    let errs = vec![
        store
            .write("test/items", item_rows(&[(2, 1)]))
            .await
            .unwrap_err(),
        store
            .delete("test/items", None, metaxy_core::DeleteOptions::soft())
            .await
            .unwrap_err(),
        store.drop_feature("test/items").await.unwrap_err(),
    ];
    for e in errs {
        assert!(matches!(e, Error::ReadOnly { .. }), "{e}");
        assert!(e.to_string().contains("write mode"), "{e}");
    }
    // reading works, and nothing was written
    let all = store.read("test/items", ReadOptions::new()).await.unwrap();
    assert_eq!(int_set(&all, "sample_uid"), set([1]));
}

/// Opens nest: a write open inside a read open allows writes until it ends; a read open
/// inside a write open keeps writes allowed.
pub async fn crud_nested_open_modes(f: &dyn BackendFactory) {
    let store = store(f, items_graph()).await;
    assert_eq!(store.mode(), None);
    {
        let _r = store.open(AccessMode::Read).await.unwrap();
        assert_eq!(store.mode(), Some(AccessMode::Read));
        {
            let _w = store.open(AccessMode::Write).await.unwrap();
            store
                .write("test/items", item_rows(&[(1, 1)]))
                .await
                .unwrap();
        }
        assert_eq!(store.mode(), Some(AccessMode::Read));
        assert!(
            store
                .write("test/items", item_rows(&[(2, 2)]))
                .await
                .is_err()
        );
    }
    assert_eq!(store.mode(), None);
    {
        let _w = store.open(AccessMode::Write).await.unwrap();
        {
            let _r = store.open(AccessMode::Read).await.unwrap();
            assert_eq!(store.mode(), Some(AccessMode::Read));
        }
        store
            .write("test/items", item_rows(&[(3, 3)]))
            .await
            .unwrap();
        let all = store.read("test/items", ReadOptions::new()).await.unwrap();
        assert_eq!(int_set(&all, "sample_uid"), set([1, 3]));
    }
}

/// Read filters see the latest row of each sample (reference
/// `test_read_filters_applied_after_deduplication`).
pub async fn crud_filters_after_dedup(f: &dyn BackendFactory) {
    let store = store(f, items_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    let first = batch(json!([
        {"sample_uid": 1, "status": null, "metaxy_provenance_by_field": {"default": "a"}},
        {"sample_uid": 2, "status": null, "metaxy_provenance_by_field": {"default": "b"}},
        {"sample_uid": 3, "status": null, "metaxy_provenance_by_field": {"default": "c"}},
        {"sample_uid": 4, "status": null, "metaxy_provenance_by_field": {"default": "d"}},
        {"sample_uid": 5, "status": null, "metaxy_provenance_by_field": {"default": "e"}},
    ]));
    store.write("test/items", first).await.unwrap();
    let second = batch(json!([
        {"sample_uid": 1, "status": "done", "metaxy_provenance_by_field": {"default": "a"}},
        {"sample_uid": 2, "status": "done", "metaxy_provenance_by_field": {"default": "b"}},
        {"sample_uid": 3, "status": "failed", "metaxy_provenance_by_field": {"default": "c"}},
    ]));
    store.write("test/items", second).await.unwrap();
    let all = store.read("test/items", ReadOptions::new()).await.unwrap();
    assert_eq!(all.num_rows(), 5);
    let null = store
        .read(
            "test/items",
            ReadOptions::new().filter_sql("status IS NULL").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(int_set(&null, "sample_uid"), set([4, 5]));
    let not_null = store
        .read(
            "test/items",
            ReadOptions::new().filter_sql("status IS NOT NULL").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(int_set(&not_null, "sample_uid"), set([1, 2, 3]));
}

/// `metaxy_created_at` / `metaxy_updated_at` are set; a rewrite gets a later `updated_at`,
/// history keeps both rows and the default read returns the latest value.
pub async fn crud_timestamps(f: &dyn BackendFactory) {
    let store = store(f, items_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write("test/items", item_rows(&[(1, 10)]))
        .await
        .unwrap();
    store
        .write("test/items", item_rows(&[(1, 20)]))
        .await
        .unwrap();
    let history = store
        .read("test/items", ReadOptions::new().with_sample_history(true))
        .await
        .unwrap();
    assert_eq!(history.num_rows(), 2);
    let mut updated: Vec<i64> = timestamps(&history, columns::UPDATED_AT)
        .into_iter()
        .map(|v| v.expect("updated_at is set"))
        .collect();
    updated.sort();
    assert!(
        updated[0] < updated[1],
        "rewrites get a later updated_at: {updated:?}"
    );
    assert!(
        timestamps(&history, columns::CREATED_AT)
            .iter()
            .all(Option::is_some),
        "created_at is set"
    );
    let latest = store.read("test/items", ReadOptions::new()).await.unwrap();
    assert_eq!(column(&latest, "value"), vec![json!(20)]);
}

/// `read` with `columns` returns exactly those columns.
pub async fn crud_read_columns_exact(f: &dyn BackendFactory) {
    let store = store(f, items_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write("test/items", item_rows(&[(1, 10), (2, 20)]))
        .await
        .unwrap();
    let only_ids = store
        .read("test/items", ReadOptions::new().columns(["sample_uid"]))
        .await
        .unwrap();
    let names: Vec<String> = only_ids
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, vec!["sample_uid".to_string()]);
    assert_eq!(int_set(&only_ids, "sample_uid"), set([1, 2]));
    let err = store
        .read("test/items", ReadOptions::new().columns(["nope"]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no column `nope`"), "{err}");
}

/// Unknown features and features never written are reported as not found.
pub async fn crud_unknown_and_unwritten(f: &dyn BackendFactory) {
    let store = store(f, video_graph()).await;
    let _g = store.open(AccessMode::Read).await.unwrap();
    let e = store
        .read("example/nope", ReadOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::FeatureNotFound { .. }), "{e}");
    assert!(e.to_string().contains("feature graph"), "{e}");
    let e = store
        .read("example/video", ReadOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::FeatureNotFound { .. }), "{e}");
    let e = store
        .read("Not A Key", ReadOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidKey { .. }), "{e}");
}

/// `list_features` lists written features; `drop_feature` removes one completely.
pub async fn crud_list_and_drop(f: &dyn BackendFactory) {
    let store = store(f, video_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    assert!(store.list_features().await.unwrap().is_empty());
    store
        .write("example/video", video_rows(&[(1, "a1", "f1")]))
        .await
        .unwrap();
    let inc = store
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap();
    store.write("example/crop", inc.new).await.unwrap();
    let listed: Vec<String> = store
        .list_features()
        .await
        .unwrap()
        .iter()
        .map(|k| k.to_string())
        .collect();
    assert_eq!(listed, vec!["example/video", "example/crop"]);
    store.drop_feature("example/crop").await.unwrap();
    assert!(!store.has_feature("example/crop", false).await.unwrap());
    assert!(matches!(
        store
            .read("example/crop", ReadOptions::new())
            .await
            .unwrap_err(),
        Error::FeatureNotFound { .. }
    ));
    // dropping a missing feature is not an error; its data can be written again
    store.drop_feature("example/crop").await.unwrap();
    let inc = store
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(inc.new.num_rows(), 1);
}

/// `display` names the backend; a named store prefixes `[name] `.
pub async fn crud_display_and_name(f: &dyn BackendFactory) {
    let plain = store(f, items_graph()).await;
    assert!(!plain.display().starts_with('['), "{}", plain.display());
    assert!(!plain.display().is_empty());
    let named = MetadataStore::with_settings(
        f.fresh().await.unwrap(),
        items_graph(),
        StoreSettings {
            name: Some("dev".into()),
            ..StoreSettings::default()
        },
    );
    assert!(named.display().starts_with("[dev] "), "{}", named.display());
    assert_eq!(format!("{named:?}"), named.display());
}

/// Closing and reopening a store keeps its data.
pub async fn crud_data_survives_reopen(f: &dyn BackendFactory) {
    let store = store(f, items_graph()).await;
    {
        let _g = store.open(AccessMode::Write).await.unwrap();
        store
            .write("test/items", item_rows(&[(1, 10), (2, 20)]))
            .await
            .unwrap();
    }
    assert_eq!(store.mode(), None);
    let _g = store.open(AccessMode::Read).await.unwrap();
    let all = store.read("test/items", ReadOptions::new()).await.unwrap();
    assert_eq!(int_set(&all, "sample_uid"), set([1, 2]));
}

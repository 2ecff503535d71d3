//! Bad input gets a typed error that says what to fix, and loses no data.

use metaxy_core::{AccessMode, Error, ReadOptions};
use serde_json::json;

use super::*;

async fn assert_nothing_written(store: &MetadataStore) {
    let e = store.read("example/video", ReadOptions::new()).await;
    match e {
        Err(Error::FeatureNotFound { .. }) => {}
        Ok(b) => assert_eq!(b.num_rows(), 0, "a rejected write must not leave rows"),
        Err(other) => panic!("unexpected error {other}"),
    }
}

/// A write without `metaxy_provenance_by_field` names the column and the fields.
pub async fn errors_missing_provenance(f: &dyn BackendFactory) {
    let store = store(f, video_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    let e = store
        .write(
            "example/video",
            batch(json!([{"sample_uid": 1, "path": "x"}])),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Schema { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("metaxy_provenance_by_field") && msg.contains("audio, frames"),
        "{msg}"
    );
    assert_nothing_written(&store).await;
}

/// Null id values are rejected.
pub async fn errors_null_ids(f: &dyn BackendFactory) {
    let store = store(f, video_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    let rows = batch(json!([
        {"sample_uid": 1, "metaxy_provenance_by_field": {"audio": "a", "frames": "f"}},
        {"sample_uid": null, "metaxy_provenance_by_field": {"audio": "a", "frames": "f"}},
    ]));
    let e = store.write("example/video", rows).await.unwrap_err();
    assert!(matches!(e, Error::Schema { .. }), "{e}");
    assert!(
        e.to_string().contains("id column `sample_uid` has 1 null"),
        "{e}"
    );
    let e = store
        .write(
            "example/video",
            batch(json!([{"metaxy_provenance_by_field": {"audio": "a", "frames": "f"}}])),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no id column `sample_uid`"), "{e}");
    assert_nothing_written(&store).await;
}

/// A struct missing a declared field, or with a NULL entry, is rejected.
pub async fn errors_missing_field(f: &dyn BackendFactory) {
    let store = store(f, video_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    let e = store
        .write(
            "example/video",
            batch(json!([{"sample_uid": 1, "metaxy_provenance_by_field": {"audio": "a"}}])),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Schema { .. }), "{e}");
    assert!(e.to_string().contains("`frames`"), "{e}");
    let e = store
        .write(
            "example/video",
            batch(json!([{"sample_uid": 1, "metaxy_provenance_by_field": {"audio": "a", "frames": null}}])),
        )
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("metaxy_provenance_by_field.frames` is null"),
        "{e}"
    );
    assert_nothing_written(&store).await;
}

/// Two rows of one sample in one write are rejected (which one should win?).
pub async fn errors_duplicate_ids(f: &dyn BackendFactory) {
    let store = store(f, video_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    let e = store
        .write(
            "example/video",
            video_rows(&[(1, "a", "f"), (2, "a", "f"), (1, "b", "g")]),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Schema { .. }), "{e}");
    assert!(e.to_string().contains("sample_uid = (1)"), "{e}");
    assert_nothing_written(&store).await;
}

/// Unknown features are reported on write, read and resolve.
pub async fn errors_unknown_feature(f: &dyn BackendFactory) {
    let store = store(f, video_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    let e = store
        .write("example/audio", video_rows(&[(1, "a", "f")]))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::FeatureNotFound { .. }), "{e}");
    let e = store
        .resolve_update("example/audio", metaxy_core::ResolveOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::FeatureNotFound { .. }), "{e}");
}

/// A write whose column type conflicts with the stored one fails and loses nothing.
pub async fn errors_type_conflict_loses_nothing(f: &dyn BackendFactory) {
    let store = store(f, video_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write("example/video", video_rows(&[(1, "a1", "f1")]))
        .await
        .unwrap();
    let bad = batch(
        json!([{"sample_uid": 2, "path": 42, "metaxy_provenance_by_field": {"audio": "a", "frames": "f"}}]),
    );
    let e = store.write("example/video", bad).await;
    // A backend may store 42 as text (no data lost) or reject the write; it must never lose
    // or corrupt the rows already stored.
    let b = store
        .read("example/video", ReadOptions::new())
        .await
        .unwrap();
    match e {
        Err(e) => {
            assert!(
                e.to_string().contains("path"),
                "the error names the column: {e}"
            );
            assert_eq!(int_set(&b, "sample_uid"), set([1]));
        }
        Ok(_) => assert_eq!(int_set(&b, "sample_uid"), set([1, 2])),
    }
    let first: Vec<Value> = rows(&b)
        .into_iter()
        .filter(|r| r["sample_uid"] == json!(1))
        .map(|r| r["path"].clone())
        .collect();
    assert_eq!(first, vec![json!("v1.mp4")]);
}

/// `metaxy_provenance_by_field` must be a struct.
pub async fn errors_provenance_not_struct(f: &dyn BackendFactory) {
    let store = store(f, video_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    let e = store
        .write(
            "example/video",
            batch(json!([{"sample_uid": 1, "metaxy_provenance_by_field": "a1"}])),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Schema { .. }), "{e}");
    assert!(e.to_string().contains("must be a struct"), "{e}");
}

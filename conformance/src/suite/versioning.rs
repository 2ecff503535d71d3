//! Sample-level versioning values (reference VersioningTests and Appendix A.2).

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, TimestampMicrosecondArray};
use metaxy_core::{
    AccessMode, DeleteOptions, Expr, HashAlgorithm, ReadOptions, ResolveOptions, batches, columns,
};
use serde_json::json;

use super::*;

/// Crop from Video `{a1, f1}` under every algorithm gives the reference's values.
pub async fn versioning_hash_algorithms(f: &dyn BackendFactory) {
    let cases = [
        (HashAlgorithm::Xxhash64, "15929452", "83395819", "10315265"),
        (HashAlgorithm::Xxhash32, "21308325", "19636128", "21969759"),
        (HashAlgorithm::Wyhash, "16945455", "70131134", "57998883"),
        (HashAlgorithm::Sha256, "e13dd0d9", "5e1844cf", "670ce06e"),
        (HashAlgorithm::Md5, "0a295188", "983ec111", "3b370e87"),
    ];
    for (alg, audio, frames, prov) in cases {
        let store = store_with(f, video_graph(), alg).await;
        let _g = store.open(AccessMode::Write).await.unwrap();
        store
            .write("example/video", video_rows(&[(1, "a1", "f1")]))
            .await
            .unwrap();
        let inc = store
            .resolve_update("example/crop", ResolveOptions::new())
            .await
            .unwrap();
        assert_eq!(
            column(&inc.new, columns::PROVENANCE_BY_FIELD),
            vec![json!({"audio": audio, "frames": frames})],
            "{alg}"
        );
        assert_eq!(
            column(&inc.new, columns::PROVENANCE),
            vec![json!(prov)],
            "{alg}"
        );
        assert_eq!(
            column(&inc.new, columns::DATA_VERSION),
            vec![json!(prov)],
            "{alg}"
        );
    }
}

/// Truncation applies to every hash: 16 characters, or full digests without truncation.
pub async fn versioning_truncation(f: &dyn BackendFactory) {
    for (truncation, len) in [(Some(16), 16), (None, 64)] {
        let graph = FeatureGraph::from_json(&video_graph_json("1"), truncation).unwrap();
        let store = store_with(f, graph, HashAlgorithm::Sha256).await;
        let _g = store.open(AccessMode::Write).await.unwrap();
        store
            .write(
                "example/video",
                video_rows(&[(1, "a1", "f1"), (2, "a2", "f2")]),
            )
            .await
            .unwrap();
        let inc = store
            .resolve_update("example/crop", ResolveOptions::new())
            .await
            .unwrap();
        for r in rows(&inc.new) {
            assert_eq!(r[columns::PROVENANCE].as_str().unwrap().len(), len);
            for v in r[columns::PROVENANCE_BY_FIELD]
                .as_object()
                .unwrap()
                .values()
            {
                assert_eq!(v.as_str().unwrap().len(), len);
            }
        }
        let fv = store
            .graph()
            .feature_version(&"example/crop".parse().unwrap())
            .unwrap()
            .to_string();
        assert_eq!(
            fv.len(),
            len.min(64),
            "definition versions are truncated too"
        );
    }
}

fn dv_graph() -> FeatureGraph {
    FeatureGraph::from_json(
        &json!([
            {"key": "parent", "id_columns": ["sample_uid"], "fields": [{"key": "value", "code_version": "1"}]},
            {"key": "child", "id_columns": ["sample_uid"], "deps": [{"feature": "parent"}],
             "fields": [{"key": "computed", "code_version": "1", "deps": [{"feature": "parent", "fields": ["value"]}]}]},
        ]),
        Some(8),
    )
    .unwrap()
}

/// Downstream provenance uses the upstream's data version, not its provenance.
pub async fn versioning_data_version_override(f: &dyn BackendFactory) {
    let store = store(f, dv_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    let parent = |prov: &str, dv: &str| {
        batch(
            json!([{"sample_uid": 1, "metaxy_provenance_by_field": {"value": prov},
                      "metaxy_data_version_by_field": {"value": dv}}]),
        )
    };
    store
        .write("parent", parent("p1", "custom_version_1"))
        .await
        .unwrap();
    let inc = store
        .resolve_update("child", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(
        column(&inc.new, columns::PROVENANCE_BY_FIELD),
        vec![json!({"computed": "11963107"})]
    );
    store.write("child", inc.new).await.unwrap();
    // a rerun with new provenance but the same content changes nothing downstream
    store
        .write("parent", parent("p1-rerun", "custom_version_1"))
        .await
        .unwrap();
    assert!(
        store
            .resolve_update("child", ResolveOptions::new())
            .await
            .unwrap()
            .is_empty()
    );
    store
        .write("parent", parent("p1-rerun", "custom_version_2"))
        .await
        .unwrap();
    let inc = store
        .resolve_update("child", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(
        column(&inc.stale, columns::PROVENANCE_BY_FIELD),
        vec![json!({"computed": "84358921"})]
    );
}

/// Rows of one sample stored with identical timestamps are deduplicated to one before
/// hashing, deterministically.
pub async fn versioning_duplicate_timestamps(f: &dyn BackendFactory) {
    let store = store(f, video_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write(
            "example/video",
            video_rows(&[(1, "a1", "f1"), (2, "a2", "f2")]),
        )
        .await
        .unwrap();
    let stored = store
        .read(
            "example/video",
            ReadOptions::new().with_sample_history(true),
        )
        .await
        .unwrap();
    // append the very same rows again, same timestamps, through the backend
    store
        .backend()
        .append(&"example/video".parse().unwrap(), stored.clone(), true)
        .await
        .unwrap();
    let history = store
        .read(
            "example/video",
            ReadOptions::new().with_sample_history(true),
        )
        .await
        .unwrap();
    assert_eq!(history.num_rows(), 4);
    let latest = store
        .read("example/video", ReadOptions::new())
        .await
        .unwrap();
    assert_eq!(latest.num_rows(), 2);
    let inc = store
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(inc.new.num_rows(), 2);
    let again = store
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(
        column(&again.new, columns::PROVENANCE),
        column(&inc.new, columns::PROVENANCE),
        "deterministic"
    );
}

/// Two rows of a sample with the same timestamp: the greater provenance wins, also for a
/// read (or a resolve's upstream read) that does not ask for the provenance and scans
/// without it at first.
pub async fn versioning_timestamp_tie_broken_by_provenance(f: &dyn BackendFactory) {
    let store = store(f, video_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    let key: metaxy_core::FeatureKey = "example/video".parse().unwrap();
    for (audio, frames) in [("a1", "f1"), ("a2", "f2")] {
        store
            .write("example/video", video_rows(&[(1, audio, frames)]))
            .await
            .unwrap();
    }
    let both = store
        .read(
            "example/video",
            ReadOptions::new().with_sample_history(true),
        )
        .await
        .unwrap();
    assert_eq!(both.num_rows(), 2);
    // the same two rows again, the one with the greater provenance first (so that "the row
    // read last" would pick the other) and the other stamped like it
    let provenance = |b: &RecordBatch| column(b, columns::PROVENANCE)[0].clone();
    let (a, b) = (both.slice(0, 1), both.slice(1, 1));
    let (winner, loser) = if provenance(&a).as_str() > provenance(&b).as_str() {
        (a, b)
    } else {
        (b, a)
    };
    let loser = batches::with_column(
        &loser,
        columns::UPDATED_AT,
        winner.column_by_name(columns::UPDATED_AT).unwrap().clone(),
    )
    .unwrap();
    store.backend().drop_table(&key).await.unwrap();
    for row in [winner.clone(), loser] {
        store.backend().append(&key, row, true).await.unwrap();
    }
    let whole = store
        .read("example/video", ReadOptions::new())
        .await
        .unwrap();
    assert_eq!(whole.num_rows(), 1);
    assert_eq!(provenance(&whole), provenance(&winner));
    let some = store
        .read(
            "example/video",
            ReadOptions::new().columns(["sample_uid", columns::DATA_VERSION_BY_FIELD]),
        )
        .await
        .unwrap();
    assert_eq!(some.num_columns(), 2);
    assert_eq!(
        column(&some, columns::DATA_VERSION_BY_FIELD),
        column(&winner, columns::DATA_VERSION_BY_FIELD)
    );
    // the resolve reads the upstream without its provenance: it sees the same winner as a
    // store holding the winner alone
    let inc = store
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap();
    store.backend().drop_table(&key).await.unwrap();
    store.backend().append(&key, winner, true).await.unwrap();
    let alone = store
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(inc.new.num_rows(), 1);
    assert_eq!(
        column(&inc.new, columns::PROVENANCE),
        column(&alone.new, columns::PROVENANCE)
    );
}

/// A feature rewritten in full, then partly soft-deleted and extended: every read — whole,
/// some columns, with the deleted samples, a resolve's upstream read — sees exactly the
/// latest rows, as a store holding only them does.
pub async fn versioning_rewrite_delete_and_extend(f: &dyn BackendFactory) {
    let store = store(f, video_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    // samples `ids` with values `<audio><id>` and `<frames><id>`
    let values = |ids: std::ops::RangeInclusive<i64>, audio: &str, frames: &str| {
        ids.map(|i| (i, format!("{audio}{i}"), format!("{frames}{i}")))
            .collect::<Vec<_>>()
    };
    let (first, second, added) = (
        values(1..=8, "a", "f"),
        values(1..=8, "b", "g"),
        values(9..=10, "c", "h"),
    );
    let rows = |r: &[(i64, String, String)]| {
        video_rows(
            &r.iter()
                .map(|(i, a, f)| (*i, a.as_str(), f.as_str()))
                .collect::<Vec<_>>(),
        )
    };
    for batch in [&first, &second] {
        store.write("example/video", rows(batch)).await.unwrap();
    }
    let gone = Expr::parse("sample_uid <= 2").unwrap();
    store
        .delete("example/video", Some(gone), DeleteOptions::soft())
        .await
        .unwrap();
    store.write("example/video", rows(&added)).await.unwrap();
    // 20 stored rows: two writes of 8, 2 tombstones, 2 new samples
    let history = store
        .read(
            "example/video",
            ReadOptions::new()
                .with_sample_history(true)
                .include_soft_deleted(true),
        )
        .await
        .unwrap();
    assert_eq!(history.num_rows(), 20);

    let live: Vec<(i64, String, String)> = second[2..].iter().chain(&added).cloned().collect();
    // a column's values by sample, in id order
    let by_id = |b: &RecordBatch, name: &str| -> Vec<(i64, Value)> {
        let mut v: Vec<(i64, Value)> = column(b, "sample_uid")
            .into_iter()
            .map(|id| id.as_i64().unwrap())
            .zip(column(b, name))
            .collect();
        v.sort_by_key(|(id, _)| *id);
        v
    };
    let versions = |b: &RecordBatch| by_id(b, columns::PROVENANCE_BY_FIELD);
    let whole = store
        .read("example/video", ReadOptions::new())
        .await
        .unwrap();
    assert_eq!(whole.num_rows(), 8);
    let some = store
        .read(
            "example/video",
            ReadOptions::new().columns(["sample_uid", columns::PROVENANCE_BY_FIELD]),
        )
        .await
        .unwrap();
    assert_eq!(some.num_columns(), 2);
    assert_eq!(versions(&some), versions(&whole));
    let with_deleted = store
        .read(
            "example/video",
            ReadOptions::new().include_soft_deleted(true),
        )
        .await
        .unwrap();
    let ids = |b: &RecordBatch| {
        by_id(b, "sample_uid")
            .into_iter()
            .map(|(id, _)| id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&with_deleted), (1..=10).collect::<Vec<_>>());
    assert_eq!(ids(&whole), (3..=10).collect::<Vec<_>>());
    let inc = store
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(inc.new.num_rows(), 8);

    // the same reads of a store holding only the latest rows
    let key: metaxy_core::FeatureKey = "example/video".parse().unwrap();
    store.backend().drop_table(&key).await.unwrap();
    store.write("example/video", rows(&live)).await.unwrap();
    let alone = store
        .read("example/video", ReadOptions::new())
        .await
        .unwrap();
    assert_eq!(versions(&whole), versions(&alone));
    let alone_inc = store
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(
        by_id(&inc.new, columns::PROVENANCE),
        by_id(&alone_inc.new, columns::PROVENANCE)
    );
}

/// The row with the greatest `metaxy_updated_at` wins, whatever the storage order.
pub async fn versioning_latest_by_timestamp(f: &dyn BackendFactory) {
    let store = store(f, items_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write("test/items", item_rows(&[(1, 0)]))
        .await
        .unwrap();
    let template = store.read("test/items", ReadOptions::new()).await.unwrap();
    for (value, micros) in [
        (1i64, 1_000_000i64),
        (2, 3_000_000_000_000_000),
        (3, 2_000_000_000_000_000),
    ] {
        let ts: ArrayRef =
            Arc::new(TimestampMicrosecondArray::from(vec![micros]).with_timezone("UTC"));
        let v: ArrayRef = Arc::new(Int64Array::from(vec![value]));
        let row = batches::with_column(&template, columns::UPDATED_AT, ts).unwrap();
        let row = batches::with_column(&row, "value", v).unwrap();
        store
            .backend()
            .append(&"test/items".parse().unwrap(), row, true)
            .await
            .unwrap();
    }
    let latest = store.read("test/items", ReadOptions::new()).await.unwrap();
    assert_eq!(column(&latest, "value"), vec![json!(2)]);
}

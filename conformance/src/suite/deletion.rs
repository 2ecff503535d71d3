//! Soft and hard deletes (reference DeletionTests).

use std::sync::Arc;

use arrow_array::{ArrayRef, TimestampMicrosecondArray};
use metaxy_core::{AccessMode, DeleteOptions, Expr, ReadOptions, batches, columns};
use serde_json::json;

use super::*;

fn expr(sql: &str) -> Expr {
    Expr::parse(sql).unwrap()
}

/// Ten `test/items` rows with `value = id` and two timestamp columns: `ts_tz` (UTC) and
/// `ts` (naive), day `id` of January 2024.
pub fn items_with_timestamps() -> RecordBatch {
    let rows: Vec<(i64, i64)> = (1..=10).map(|i| (i, i)).collect();
    let b = item_rows(&rows);
    let day = |i: i64| 1_704_067_200_000_000 + (i - 1) * 86_400_000_000;
    let tz: ArrayRef = Arc::new(
        TimestampMicrosecondArray::from_iter_values((1..=10).map(day)).with_timezone("UTC"),
    );
    let naive: ArrayRef = Arc::new(TimestampMicrosecondArray::from_iter_values(
        (1..=10).map(day),
    ));
    let b = batches::with_column(&b, "ts_tz", tz).unwrap();
    batches::with_column(&b, "ts", naive).unwrap()
}

fn live_and_all(all: &RecordBatch, live: &RecordBatch) -> (BTreeSet<i64>, BTreeSet<i64>) {
    (int_set(live, "sample_uid"), int_set(all, "sample_uid"))
}

async fn read_sets(store: &MetadataStore) -> (BTreeSet<i64>, BTreeSet<i64>) {
    let live = store.read("test/items", ReadOptions::new()).await.unwrap();
    let all = store
        .read("test/items", ReadOptions::new().include_soft_deleted(true))
        .await
        .unwrap();
    live_and_all(&all, &live)
}

/// A soft-deleted sample is hidden by default and visible, with `deleted_at`, on request.
pub async fn deletion_soft_hidden_by_default(f: &dyn BackendFactory) {
    let store = store(f, items_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write("test/items", item_rows(&[(1, 1), (2, 2), (3, 3)]))
        .await
        .unwrap();
    let n = store
        .delete(
            "test/items",
            Some(expr("sample_uid = 2")),
            DeleteOptions::soft(),
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    let (live, all) = read_sets(&store).await;
    assert_eq!(live, set([1, 3]));
    assert_eq!(all, set([1, 2, 3]));
    // reading only the ids: the tombstones still decide, though not returned
    let ids = store
        .read("test/items", ReadOptions::new().columns(["sample_uid"]))
        .await
        .unwrap();
    assert_eq!(ids.num_columns(), 1);
    assert_eq!(int_set(&ids, "sample_uid"), set([1, 3]));
    let deleted = store
        .read(
            "test/items",
            ReadOptions::new()
                .include_soft_deleted(true)
                .filter_sql("sample_uid = 2")
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(
        column(&deleted, columns::DELETED_AT)[0].is_string(),
        "tombstone has deleted_at"
    );
}

fn now_string() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// write → tombstone written by hand → write again: the last write wins.
pub async fn deletion_write_delete_write(f: &dyn BackendFactory) {
    let store = store(f, items_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write("test/items", item_rows(&[(1, 100)]))
        .await
        .unwrap();
    let tombstone = batch(
        json!([{"sample_uid": 1, "value": 100, "metaxy_deleted_at": now_string(),
        "metaxy_provenance_by_field": {"default": "p1_100"}}]),
    );
    store.write("test/items", tombstone).await.unwrap();
    let (live, _) = read_sets(&store).await;
    assert!(live.is_empty(), "the tombstone hides the sample");
    store
        .write("test/items", item_rows(&[(1, 200)]))
        .await
        .unwrap();
    let latest = store
        .read("test/items", ReadOptions::new().include_soft_deleted(true))
        .await
        .unwrap();
    assert_eq!(latest.num_rows(), 1);
    assert_eq!(column(&latest, "value"), vec![json!(200)]);
    assert_eq!(column(&latest, columns::DELETED_AT), vec![json!(null)]);
    // and delete once more
    store
        .delete("test/items", None, DeleteOptions::soft())
        .await
        .unwrap();
    let (live, all) = read_sets(&store).await;
    assert!(live.is_empty());
    assert_eq!(all, set([1]));
    let last = store
        .read("test/items", ReadOptions::new().include_soft_deleted(true))
        .await
        .unwrap();
    assert_eq!(column(&last, "value"), vec![json!(200)]);
    assert!(column(&last, columns::DELETED_AT)[0].is_string());
}

/// Soft-deleting an old row of a sample tombstones the sample; history keeps every row.
pub async fn deletion_soft_historical_hides_sample(f: &dyn BackendFactory) {
    let store = store(f, items_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write("test/items", item_rows(&[(1, 1)]))
        .await
        .unwrap();
    store
        .write("test/items", item_rows(&[(1, 2)]))
        .await
        .unwrap();
    let options = DeleteOptions {
        with_sample_history: true,
        ..DeleteOptions::soft()
    };
    assert_eq!(
        store
            .delete("test/items", Some(expr("value = 1")), options)
            .await
            .unwrap(),
        1
    );
    let live = store.read("test/items", ReadOptions::new()).await.unwrap();
    assert_eq!(
        live.num_rows(),
        0,
        "the tombstone is the latest row of sample 1"
    );
    let history = store
        .read(
            "test/items",
            ReadOptions::new()
                .with_sample_history(true)
                .include_soft_deleted(true),
        )
        .await
        .unwrap();
    let mut seen: Vec<(i64, bool)> = rows(&history)
        .iter()
        .map(|r| {
            (
                r["value"].as_i64().unwrap(),
                r[columns::DELETED_AT].is_string(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(seen, vec![(1, false), (1, true), (2, false)]);
}

/// A write after a soft delete restores the sample.
pub async fn deletion_soft_then_overwrite_restores(f: &dyn BackendFactory) {
    let store = store(f, items_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write("test/items", item_rows(&[(1, 1), (2, 2)]))
        .await
        .unwrap();
    store
        .delete(
            "test/items",
            Some(expr("sample_uid = 1")),
            DeleteOptions::soft(),
        )
        .await
        .unwrap();
    store
        .write("test/items", item_rows(&[(1, 5)]))
        .await
        .unwrap();
    let live = store.read("test/items", ReadOptions::new()).await.unwrap();
    assert_eq!(int_set(&live, "sample_uid"), set([1, 2]));
    let one = store
        .read(
            "test/items",
            ReadOptions::new().filter_sql("sample_uid = 1").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(column(&one, "value"), vec![json!(5)]);
}

/// A hard delete removes rows physically (not even visible with `include_soft_deleted`).
pub async fn deletion_hard_removes_rows(f: &dyn BackendFactory) {
    let store = store(f, items_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write("test/items", item_rows(&[(1, 1), (2, 2), (3, 3)]))
        .await
        .unwrap();
    let n = store
        .delete(
            "test/items",
            Some(expr("value >= 2")),
            DeleteOptions::hard(),
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    let (live, all) = read_sets(&store).await;
    assert_eq!(live, set([1]));
    assert_eq!(all, set([1]));
    let history = store
        .read(
            "test/items",
            ReadOptions::new()
                .with_sample_history(true)
                .include_soft_deleted(true),
        )
        .await
        .unwrap();
    assert_eq!(history.num_rows(), 1);
    // writing again restores
    store
        .write("test/items", item_rows(&[(2, 7)]))
        .await
        .unwrap();
    let (live, _) = read_sets(&store).await;
    assert_eq!(live, set([1, 2]));
}

/// Hard-deleting an old row of a sample keeps its latest row.
pub async fn deletion_hard_historical_keeps_latest(f: &dyn BackendFactory) {
    let store = store(f, items_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write("test/items", item_rows(&[(1, 1)]))
        .await
        .unwrap();
    store
        .write("test/items", item_rows(&[(1, 2)]))
        .await
        .unwrap();
    store
        .delete("test/items", Some(expr("value = 1")), DeleteOptions::hard())
        .await
        .unwrap();
    let live = store.read("test/items", ReadOptions::new()).await.unwrap();
    assert_eq!(column(&live, "value"), vec![json!(2)]);
    let history = store
        .read("test/items", ReadOptions::new().with_sample_history(true))
        .await
        .unwrap();
    assert_eq!(history.num_rows(), 1);
}

/// Ten predicate shapes, soft and hard: each deletes exactly the matching samples.
pub async fn deletion_predicate_shapes(f: &dyn BackendFactory) {
    let shapes = [
        ("value > 5", vec![6, 7, 8, 9, 10]),
        ("value = 3", vec![3]),
        ("value != 3", vec![1, 2, 4, 5, 6, 7, 8, 9, 10]),
        ("value >= 2 AND value < 5", vec![2, 3, 4]),
        ("sample_uid IN (1, 2)", vec![1, 2]),
        ("value = 1 OR value = 9", vec![1, 9]),
        ("ts_tz > '2024-01-05T00:00:00+00:00'", vec![6, 7, 8, 9, 10]),
        ("ts < '2024-01-03 00:00:00'", vec![1, 2]),
        (
            "value > 1 AND value < 9 AND sample_uid != 5",
            vec![2, 3, 4, 6, 7, 8],
        ),
        ("NOT (value <= 8)", vec![9, 10]),
    ];
    for soft in [true, false] {
        for (sql, deleted) in &shapes {
            let store = store(f, items_graph()).await;
            let _g = store.open(AccessMode::Write).await.unwrap();
            store
                .write("test/items", items_with_timestamps())
                .await
                .unwrap();
            let options = if soft {
                DeleteOptions::soft()
            } else {
                DeleteOptions::hard()
            };
            let n = store
                .delete("test/items", Some(expr(sql)), options)
                .await
                .unwrap();
            assert_eq!(n as usize, deleted.len(), "{sql} (soft: {soft})");
            let live = store.read("test/items", ReadOptions::new()).await.unwrap();
            let expected: BTreeSet<i64> = (1..=10).filter(|i| !deleted.contains(i)).collect();
            assert_eq!(
                int_set(&live, "sample_uid"),
                expected,
                "{sql} (soft: {soft})"
            );
        }
    }
}

/// Deleting without a filter deletes every sample.
pub async fn deletion_without_filter(f: &dyn BackendFactory) {
    for soft in [true, false] {
        let store = store(f, items_graph()).await;
        let _g = store.open(AccessMode::Write).await.unwrap();
        store
            .write("test/items", items_with_timestamps())
            .await
            .unwrap();
        let options = if soft {
            DeleteOptions::soft()
        } else {
            DeleteOptions::hard()
        };
        assert_eq!(store.delete("test/items", None, options).await.unwrap(), 10);
        let (live, all) = read_sets(&store).await;
        assert!(live.is_empty());
        assert_eq!(all.len(), if soft { 10 } else { 0 });
        // the table still exists
        assert!(store.has_feature("test/items", false).await.unwrap());
    }
}

/// A hard delete with a timestamp filter (reference `test_delete_datetime_filter_hard_delete`).
pub async fn deletion_hard_datetime_filter(f: &dyn BackendFactory) {
    let store = store(f, items_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write("test/items", items_with_timestamps())
        .await
        .unwrap();
    store
        .delete(
            "test/items",
            Some(expr("ts_tz > TIMESTAMP '2024-01-05 00:00:00'")),
            DeleteOptions::hard(),
        )
        .await
        .unwrap();
    let live = store.read("test/items", ReadOptions::new()).await.unwrap();
    assert_eq!(int_set(&live, "sample_uid"), set([1, 2, 3, 4, 5]));
}

/// A tombstone keeps the sample's `created_at` and `updated_at`; its `deleted_at` is later.
pub async fn deletion_soft_preserves_timestamps(f: &dyn BackendFactory) {
    let store = store(f, items_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write("test/items", item_rows(&[(1, 1), (2, 2)]))
        .await
        .unwrap();
    let before = store.read("test/items", ReadOptions::new()).await.unwrap();
    store
        .delete("test/items", None, DeleteOptions::soft())
        .await
        .unwrap();
    let after = store
        .read("test/items", ReadOptions::new().include_soft_deleted(true))
        .await
        .unwrap();
    type Stamps = (i64, Option<i64>, Option<i64>, Option<i64>);
    let index = |b: &RecordBatch| -> Vec<Stamps> {
        let ids = column(b, "sample_uid");
        let c = timestamps(b, columns::CREATED_AT);
        let u = timestamps(b, columns::UPDATED_AT);
        let d = timestamps(b, columns::DELETED_AT);
        let mut v: Vec<_> = (0..b.num_rows())
            .map(|i| (ids[i].as_i64().unwrap(), c[i], u[i], d[i]))
            .collect();
        v.sort_by_key(|x| x.0);
        v
    };
    let (before, after) = (index(&before), index(&after));
    assert_eq!(before.len(), after.len());
    for ((id, c0, u0, d0), (id1, c1, u1, d1)) in before.into_iter().zip(after) {
        assert_eq!(id, id1);
        assert_eq!(c0, c1, "created_at preserved");
        assert_eq!(u0, u1, "updated_at preserved");
        assert_eq!(d0, None);
        let (d1, u1) = (d1.expect("deleted_at set"), u1.expect("updated_at set"));
        assert!(d1 > u1, "deleted_at {d1} after updated_at {u1}");
    }
}

/// Deleting from a feature that was never written does nothing (and is not an error).
pub async fn deletion_missing_feature_is_noop(f: &dyn BackendFactory) {
    let store = store(f, items_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    assert_eq!(
        store
            .delete("test/items", None, DeleteOptions::soft())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .delete("test/items", None, DeleteOptions::hard())
            .await
            .unwrap(),
        0
    );
    assert!(!store.has_feature("test/items", false).await.unwrap());
}

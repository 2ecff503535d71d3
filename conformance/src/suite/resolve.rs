//! `resolve_update` (reference ResolveUpdateTests), asserting exact sets of samples.

use metaxy_core::{AccessMode, Error, Expr, HashAlgorithm, ReadOptions, ResolveOptions, columns};
use serde_json::json;

use super::*;

fn expr(sql: &str) -> Expr {
    Expr::parse(sql).unwrap()
}

fn graph(specs: Value) -> FeatureGraph {
    FeatureGraph::from_json(&specs, Some(8)).unwrap()
}

/// The stale-fields annotation of every stale row, by `sample_uid`.
fn stale_fields(b: &RecordBatch) -> Vec<(i64, Vec<String>)> {
    let mut out: Vec<(i64, Vec<String>)> = rows(b)
        .into_iter()
        .map(|r| {
            let fields = r[columns::STALE_FIELDS]
                .as_array()
                .expect("stale rows carry metaxy_stale_fields")
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            (r["sample_uid"].as_i64().unwrap(), fields)
        })
        .collect();
    out.sort();
    out
}

/// A root feature cannot be resolved without samples.
pub async fn resolve_root_requires_samples(f: &dyn BackendFactory) {
    let store = store(f, video_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    let e = store
        .resolve_update("example/video", ResolveOptions::new())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("root feature"), "{e}");
}

/// Root features resolve against the caller's samples: the first run is all new, then
/// changed samples are stale, unseen ones new and vanished ones orphaned.
pub async fn resolve_root_with_samples(f: &dyn BackendFactory) {
    let store = store(f, video_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    let samples = video_rows(&[(1, "a1", "f1"), (2, "a2", "f2"), (3, "a3", "f3")]);
    let inc = store
        .resolve_update(
            "example/video",
            ResolveOptions::new().samples(samples.clone()),
        )
        .await
        .unwrap();
    assert_eq!(int_set(&inc.new, "sample_uid"), set([1, 2, 3]));
    assert_eq!(
        column(&inc.new, columns::PROVENANCE_BY_FIELD),
        column(&samples, columns::PROVENANCE_BY_FIELD)
    );
    // provenance = xxhash64("a1|f1") truncated
    let expected = HashAlgorithm::Xxhash64.hash_str("a1|f1", Some(8));
    let first: Vec<Value> = rows(&inc.new)
        .into_iter()
        .filter(|r| r["sample_uid"] == json!(1))
        .map(|r| r[columns::PROVENANCE].clone())
        .collect();
    assert_eq!(first, vec![json!(expected)]);
    let samples_again = samples.clone();
    store.write("example/video", samples).await.unwrap();
    let next = video_rows(&[(1, "a1", "f1"), (2, "a2x", "f2"), (4, "a4", "f4")]);
    let inc = store
        .resolve_update("example/video", ResolveOptions::new().samples(next))
        .await
        .unwrap();
    assert_eq!(int_set(&inc.new, "sample_uid"), set([4]));
    assert_eq!(int_set(&inc.stale, "sample_uid"), set([2]));
    assert_eq!(int_set(&inc.orphaned, "sample_uid"), set([3]));
    // an orphan is the stored row, data versions included (read again for the orphans), and
    // a resolve without orphans returns an empty frame of the same columns
    let stored = store
        .read("example/video", ReadOptions::new())
        .await
        .unwrap();
    let stored_3: Vec<Value> = rows(&stored)
        .into_iter()
        .filter(|r| r["sample_uid"] == json!(3))
        .flat_map(|r| {
            [
                r[columns::DATA_VERSION_BY_FIELD].clone(),
                r[columns::DATA_VERSION].clone(),
            ]
        })
        .collect();
    let orphan_3: Vec<Value> = rows(&inc.orphaned)
        .into_iter()
        .flat_map(|r| {
            [
                r[columns::DATA_VERSION_BY_FIELD].clone(),
                r[columns::DATA_VERSION].clone(),
            ]
        })
        .collect();
    assert_eq!(orphan_3, stored_3);
    let none = store
        .resolve_update(
            "example/video",
            ResolveOptions::new().samples(samples_again.clone()),
        )
        .await
        .unwrap();
    assert_eq!(none.orphaned.num_rows(), 0);
    assert_eq!(none.orphaned.schema(), inc.orphaned.schema());
    assert_eq!(
        stale_fields(&inc.stale),
        vec![(2, vec!["audio".to_string()])]
    );
}

/// A changed audio makes crop and stt stale for that sample only, and only its audio field;
/// face detection (frames only) stays up to date.
pub async fn resolve_downstream_field_level(f: &dyn BackendFactory) {
    let store = store(f, video_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write(
            "example/video",
            video_rows(&[(1, "a1", "f1"), (2, "a2", "f2"), (3, "a3", "f3")]),
        )
        .await
        .unwrap();
    for key in ["example/crop", "example/face_detection", "example/stt"] {
        let inc = store
            .resolve_update(key, ResolveOptions::new())
            .await
            .unwrap();
        assert_eq!(int_set(&inc.new, "sample_uid"), set([1, 2, 3]), "{key}");
        store.write(key, inc.new).await.unwrap();
    }
    // the reference's values for crop of {a1, f1}
    let crop = store
        .read(
            "example/crop",
            ReadOptions::new().filter(expr("sample_uid = 1")),
        )
        .await
        .unwrap();
    assert_eq!(
        column(&crop, columns::PROVENANCE_BY_FIELD),
        vec![json!({"audio": "15929452", "frames": "83395819"})]
    );
    assert_eq!(column(&crop, columns::PROVENANCE), vec![json!("10315265")]);

    store
        .write("example/video", video_rows(&[(2, "a2-new", "f2")]))
        .await
        .unwrap();
    let crop = store
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(int_set(&crop.stale, "sample_uid"), set([2]));
    assert_eq!((crop.new.num_rows(), crop.orphaned.num_rows()), (0, 0));
    assert_eq!(
        stale_fields(&crop.stale),
        vec![(2, vec!["audio".to_string()])]
    );
    let stt = store
        .resolve_update("example/stt", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(int_set(&stt.stale, "sample_uid"), set([2]));
    store.write("example/crop", crop.stale).await.unwrap();
    let faces = store
        .resolve_update("example/face_detection", ResolveOptions::new())
        .await
        .unwrap();
    assert!(
        faces.is_empty(),
        "frames did not change: {:?}",
        faces.counts()
    );
}

/// After writing the increment, resolving again finds nothing to do.
pub async fn resolve_idempotent(f: &dyn BackendFactory) {
    let store = store(f, video_graph()).await;
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
    store.write("example/crop", inc.new).await.unwrap();
    let again = store
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap();
    assert!(again.is_empty(), "{:?}", again.counts());
    // writing the same upstream again (new timestamps, same provenance) changes nothing
    store
        .write(
            "example/video",
            video_rows(&[(1, "a1", "f1"), (2, "a2", "f2")]),
        )
        .await
        .unwrap();
    let again = store
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap();
    assert!(again.is_empty(), "{:?}", again.counts());
}

fn optional_graph(both_optional: bool) -> FeatureGraph {
    graph(json!([
        {"key": "a", "id_columns": ["sample_uid"], "fields": ["x"]},
        {"key": "b", "id_columns": ["sample_uid"], "fields": ["y"]},
        {"key": "c", "id_columns": ["sample_uid"],
         "deps": [{"feature": "a", "optional": both_optional}, {"feature": "b", "optional": true}],
         "fields": [{"key": "z", "deps": [{"feature": "a", "fields": ["x"]}, {"feature": "b", "fields": ["y"]}]}]},
    ]))
}

fn xs(rows: &[(i64, &str)], field: &str) -> RecordBatch {
    batch(Value::Array(
        rows.iter()
            .map(|(id, v)| json!({"sample_uid": id, "metaxy_provenance_by_field": {field: v}}))
            .collect(),
    ))
}

/// An optional upstream is left-joined; a missing value hashes as the empty string (the
/// reference's vector `z|__metaxy_initial__|a.x|x2|b.y|`).
pub async fn resolve_optional_dependency(f: &dyn BackendFactory) {
    let store = store_with(f, optional_graph(false), HashAlgorithm::Xxhash32).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write("a", xs(&[(1, "x1"), (2, "x2")], "x"))
        .await
        .unwrap();
    store.write("b", xs(&[(1, "y1")], "y")).await.unwrap();
    let inc = store
        .resolve_update("c", ResolveOptions::new())
        .await
        .unwrap();
    let by_id: std::collections::BTreeMap<i64, Value> = rows(&inc.new)
        .into_iter()
        .map(|r| {
            (
                r["sample_uid"].as_i64().unwrap(),
                r[columns::PROVENANCE_BY_FIELD].clone(),
            )
        })
        .collect();
    assert_eq!(by_id[&1], json!({"z": "13070496"}));
    assert_eq!(by_id[&2], json!({"z": "23581942"}));
    store.write("c", inc.new).await.unwrap();
    // the optional parent appears for 2 and changes for 1: both stale
    store
        .write("b", xs(&[(1, "y1b"), (2, "y2")], "y"))
        .await
        .unwrap();
    let inc = store
        .resolve_update("c", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(int_set(&inc.stale, "sample_uid"), set([1, 2]));
    // a sample only the optional upstream has is not a sample of c
    store.write("b", xs(&[(9, "y9")], "y")).await.unwrap();
    let inc = store
        .resolve_update("c", ResolveOptions::new())
        .await
        .unwrap();
    assert!(!int_set(&inc.new, "sample_uid").contains(&9));
}

/// When every dependency is optional, the samples are the union (full outer join).
pub async fn resolve_all_optional_outer_join(f: &dyn BackendFactory) {
    let store = store(f, optional_graph(true)).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write("a", xs(&[(1, "x1"), (2, "x2")], "x"))
        .await
        .unwrap();
    store
        .write("b", xs(&[(2, "y2"), (3, "y3")], "y"))
        .await
        .unwrap();
    let inc = store
        .resolve_update("c", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(int_set(&inc.new, "sample_uid"), set([1, 2, 3]));
    let z = |id: i64| -> Value {
        rows(&inc.new)
            .into_iter()
            .find(|r| r["sample_uid"] == json!(id))
            .map(|r| r[columns::PROVENANCE_BY_FIELD]["z"].clone())
            .unwrap()
    };
    let h = |s: &str| json!(HashAlgorithm::Xxhash64.hash_str(s, Some(8)));
    assert_eq!(z(1), h("z|__metaxy_initial__|a.x|x1|b.y|"));
    assert_eq!(z(2), h("z|__metaxy_initial__|a.x|x2|b.y|y2"));
    assert_eq!(z(3), h("z|__metaxy_initial__|a.x||b.y|y3"));
}

/// A missing optional upstream *table* counts as empty (Metaxy raises instead).
pub async fn resolve_missing_optional_table(f: &dyn BackendFactory) {
    let store = store(f, optional_graph(false)).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write("a", xs(&[(1, "x1"), (2, "x2")], "x"))
        .await
        .unwrap();
    let inc = store
        .resolve_update("c", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(int_set(&inc.new, "sample_uid"), set([1, 2]));
    let h = json!(HashAlgorithm::Xxhash64.hash_str("z|__metaxy_initial__|a.x|x2|b.y|", Some(8)));
    let z2: Vec<Value> = rows(&inc.new)
        .into_iter()
        .filter(|r| r["sample_uid"] == json!(2))
        .map(|r| r[columns::PROVENANCE_BY_FIELD]["z"].clone())
        .collect();
    assert_eq!(z2, vec![h]);
}

/// A missing required upstream is an error that says what to do.
pub async fn resolve_missing_required_table(f: &dyn BackendFactory) {
    let store = store(f, video_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    let e = store
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::FeatureNotFound { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("example/video") && msg.contains("upstream of `example/crop`"),
        "{msg}"
    );
}

fn sensor_graph() -> FeatureGraph {
    graph(json!([
        {"key": "sensor/readings", "id_columns": ["sensor_id", "reading_id"], "fields": ["temperature", "humidity"]},
        {"key": "sensor/summary", "id_columns": ["sensor_id"],
         "deps": [{"feature": "sensor/readings", "lineage": {"relationship": {"type": "N:1", "on": ["sensor_id"]}}}],
         "fields": [
            {"key": "avg_temp", "code_version": "1", "deps": [{"feature": "sensor/readings", "fields": ["temperature"]}]},
            {"key": "avg_humidity", "code_version": "1", "deps": [{"feature": "sensor/readings", "fields": ["humidity"]}]}]},
    ]))
}

fn readings(rows: &[(&str, i64, &str, &str)]) -> RecordBatch {
    batch(Value::Array(
        rows.iter()
            .map(|(s, r, t, h)| {
                json!({"sensor_id": s, "reading_id": r,
                       "metaxy_provenance_by_field": {"temperature": t, "humidity": h}})
            })
            .collect(),
    ))
}

/// N:1: every reading row of a group carries the group's provenance (the reference's
/// vector), and changing only temperature changes only `avg_temp`.
pub async fn resolve_aggregation(f: &dyn BackendFactory) {
    let store = store(f, sensor_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write(
            "sensor/readings",
            readings(&[
                ("s1", 2, "fv_r2", "h2"),
                ("s1", 1, "fv_r1", "h1"),
                ("s2", 3, "t3", "h3"),
                ("s2", 4, "t4", "h4"),
                ("s2", 5, "t5", "h5"),
            ]),
        )
        .await
        .unwrap();
    let inc = store
        .resolve_update("sensor/summary", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(inc.new.num_rows(), 5, "one row per reading");
    let s1: Vec<Map<String, Value>> = rows(&inc.new)
        .into_iter()
        .filter(|r| r["sensor_id"] == json!("s1"))
        .collect();
    assert_eq!(s1.len(), 2);
    assert_eq!(
        s1[0][columns::PROVENANCE_BY_FIELD],
        s1[1][columns::PROVENANCE_BY_FIELD]
    );
    // readings ordered by reading_id within the group: "fv_r1|fv_r2"
    let agg = HashAlgorithm::Xxhash64.hash_str("fv_r1|fv_r2", Some(8));
    let want = HashAlgorithm::Xxhash64.hash_str(
        &format!("avg_temp|1|sensor/readings.temperature|{agg}"),
        Some(8),
    );
    assert_eq!(s1[0][columns::PROVENANCE_BY_FIELD]["avg_temp"], json!(want));
    // the user writes one row per group
    let one_per_group = batch(json!([
        {"sensor_id": "s1", "metaxy_provenance_by_field": s1[0][columns::PROVENANCE_BY_FIELD].clone()},
        {"sensor_id": "s2", "metaxy_provenance_by_field": rows(&inc.new).into_iter()
            .find(|r| r["sensor_id"] == json!("s2")).unwrap()[columns::PROVENANCE_BY_FIELD].clone()},
    ]));
    store.write("sensor/summary", one_per_group).await.unwrap();
    assert!(
        store
            .resolve_update("sensor/summary", ResolveOptions::new())
            .await
            .unwrap()
            .is_empty()
    );
    store
        .write("sensor/readings", readings(&[("s1", 2, "fv_r2_x", "h2")]))
        .await
        .unwrap();
    let inc = store
        .resolve_update("sensor/summary", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(inc.stale.num_rows(), 2, "both rows of group s1");
    let changed: BTreeSet<String> = rows(&inc.stale)
        .into_iter()
        .flat_map(|r| r[columns::STALE_FIELDS].as_array().unwrap().clone())
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(changed, ["avg_temp".to_string()].into_iter().collect());
    assert_eq!(
        str_set(&inc.stale, "sensor_id"),
        ["s1".to_string()].into_iter().collect()
    );
}

fn expansion_graph() -> FeatureGraph {
    graph(json!([
        {"key": "exp/video", "id_columns": ["video_id"], "fields": ["content"]},
        {"key": "exp/frames", "id_columns": ["video_id", "frame_id"],
         "deps": [{"feature": "exp/video", "lineage": {"relationship": {"type": "1:N", "on": ["video_id"]}}}],
         "fields": [{"key": "frames", "code_version": "1"}]},
    ]))
}

fn children(parents: &RecordBatch, per_parent: i64) -> RecordBatch {
    let mut out = Vec::new();
    for r in rows(parents) {
        for i in 0..per_parent {
            out.push(json!({"video_id": r["video_id"], "frame_id": i,
                "metaxy_provenance_by_field": r[columns::PROVENANCE_BY_FIELD],
                "metaxy_provenance": r[columns::PROVENANCE]}));
        }
    }
    batch(Value::Array(out))
}

/// 1:N: new, stale and orphaned are per parent, not per child.
pub async fn resolve_expansion(f: &dyn BackendFactory) {
    let store = store(f, expansion_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    let videos = |rows: &[(&str, &str)]| {
        batch(Value::Array(
            rows.iter()
                .map(|(v, c)| json!({"video_id": v, "metaxy_provenance_by_field": {"content": c}}))
                .collect(),
        ))
    };
    store
        .write(
            "exp/video",
            videos(&[("v1", "fv_v1"), ("v2", "c2"), ("v3", "c3")]),
        )
        .await
        .unwrap();
    let inc = store
        .resolve_update("exp/frames", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(inc.new.num_rows(), 3);
    let v1 = rows(&inc.new)
        .into_iter()
        .find(|r| r["video_id"] == json!("v1"))
        .unwrap();
    let h = |s: &str| HashAlgorithm::Xxhash64.hash_str(s, Some(8));
    let frames = h("frames|1|exp/video.content|fv_v1");
    assert_eq!(v1[columns::PROVENANCE_BY_FIELD], json!({"frames": frames}));
    assert_eq!(v1[columns::PROVENANCE], json!(h(&frames)));
    store
        .write("exp/frames", children(&inc.new, 10))
        .await
        .unwrap();
    // writing the same children twice still leaves nothing orphaned or new
    store
        .write("exp/frames", children(&inc.new, 10))
        .await
        .unwrap();
    let again = store
        .resolve_update("exp/frames", ResolveOptions::new())
        .await
        .unwrap();
    assert!(again.is_empty(), "{:?}", again.counts());
    store
        .write("exp/video", videos(&[("v2", "c2-recut")]))
        .await
        .unwrap();
    store
        .delete(
            "exp/video",
            Some(expr("video_id = 'v3'")),
            metaxy_core::DeleteOptions::soft(),
        )
        .await
        .unwrap();
    let inc = store
        .resolve_update("exp/frames", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(
        str_set(&inc.stale, "video_id"),
        ["v2".to_string()].into_iter().collect()
    );
    assert_eq!(inc.stale.num_rows(), 1, "one stale row per parent");
    assert_eq!(
        str_set(&inc.orphaned, "video_id"),
        ["v3".to_string()].into_iter().collect()
    );
    assert_eq!(inc.orphaned.num_rows(), 1, "one orphaned row per parent");
}

/// Five identical writes of a downstream sample are one current sample (nothing orphaned).
pub async fn resolve_identity_repeated_writes(f: &dyn BackendFactory) {
    let store = store(f, video_graph()).await;
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
    for _ in 0..5 {
        store.write("example/crop", inc.new.clone()).await.unwrap();
    }
    let again = store
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap();
    assert!(again.is_empty(), "{:?}", again.counts());
    // an upstream that lost samples orphans exactly those
    store
        .delete(
            "example/video",
            Some(expr("sample_uid = 2")),
            metaxy_core::DeleteOptions::soft(),
        )
        .await
        .unwrap();
    let inc = store
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(int_set(&inc.orphaned, "sample_uid"), set([2]));
    assert_eq!(inc.new.num_rows() + inc.stale.num_rows(), 0);
}

/// Staleness predicates mark matching stored samples stale, OR-ed, without duplicating
/// version-stale or new samples; the first run has nothing stored.
pub async fn resolve_staleness_predicates(f: &dyn BackendFactory) {
    let store = store(f, video_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write(
            "example/video",
            video_rows(&[
                (1, "a1", "f1"),
                (2, "a2", "f2"),
                (3, "a3", "f3"),
                (4, "a4", "f4"),
            ]),
        )
        .await
        .unwrap();
    let first = store
        .resolve_update(
            "example/crop",
            ResolveOptions::new().stale_if(expr("sample_uid = 1")),
        )
        .await
        .unwrap();
    assert_eq!(int_set(&first.new, "sample_uid"), set([1, 2, 3, 4]));
    assert_eq!(first.stale.num_rows(), 0, "nothing stored yet");
    let crop = metaxy_core::batches::with_column(
        &first.new,
        "quality",
        std::sync::Arc::new(arrow_array::Int64Array::from(
            column(&first.new, "sample_uid")
                .iter()
                .map(|v| v.as_i64().unwrap() * 10)
                .collect::<Vec<_>>(),
        )),
    )
    .unwrap();
    // store 1..3 only; 4 stays new
    let three = crop.slice(0, 4);
    let keep: Vec<u32> = column(&three, "sample_uid")
        .iter()
        .enumerate()
        .filter(|(_, v)| v.as_i64().unwrap() != 4)
        .map(|(i, _)| i as u32)
        .collect();
    let three =
        arrow_select::take::take_record_batch(&three, &arrow_array::UInt32Array::from(keep))
            .unwrap();
    store.write("example/crop", three).await.unwrap();
    store
        .write("example/video", video_rows(&[(2, "a2-new", "f2")]))
        .await
        .unwrap();
    let options = ResolveOptions::new()
        .stale_if(expr("quality <= 10"))
        .stale_if(expr("sample_uid = 2"))
        .stale_if(expr("sample_uid = 4"));
    let inc = store.resolve_update("example/crop", options).await.unwrap();
    assert_eq!(int_set(&inc.stale, "sample_uid"), set([1, 2]));
    assert_eq!(inc.stale.num_rows(), 2, "no duplicates");
    assert_eq!(int_set(&inc.new, "sample_uid"), set([4]));
    let fields = stale_fields(&inc.stale);
    assert_eq!(fields, vec![(1, vec![]), (2, vec!["audio".to_string()])]);
    // without predicates only the version-stale sample
    let plain = store
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(int_set(&plain.stale, "sample_uid"), set([2]));
    // skip_comparison ignores predicates
    let skip = store
        .resolve_update(
            "example/crop",
            ResolveOptions::new()
                .stale_if(expr("quality <= 10"))
                .skip_comparison(true),
        )
        .await
        .unwrap();
    assert_eq!(skip.stale.num_rows(), 0);
    assert_eq!(int_set(&skip.new, "sample_uid"), set([1, 2, 3, 4]));
}

/// `skip_comparison` returns the expected frame as `new`.
pub async fn resolve_skip_comparison(f: &dyn BackendFactory) {
    let store = store(f, video_graph()).await;
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
    store.write("example/crop", inc.new.clone()).await.unwrap();
    let skip = store
        .resolve_update("example/crop", ResolveOptions::new().skip_comparison(true))
        .await
        .unwrap();
    assert_eq!(int_set(&skip.new, "sample_uid"), set([1, 2]));
    assert_eq!((skip.stale.num_rows(), skip.orphaned.num_rows()), (0, 0));
    assert_eq!(
        column(&skip.new, columns::PROVENANCE),
        column(&inc.new, columns::PROVENANCE)
    );
}

/// A definition change that changes the feature version makes every sample new (the stored
/// rows belong to the old version).
pub async fn resolve_feature_version_change_is_new(f: &dyn BackendFactory) {
    let store = store(f, video_graph()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write(
            "example/video",
            video_rows(&[(1, "a1", "f1"), (2, "a2", "f2")]),
        )
        .await
        .unwrap();
    for key in ["example/crop", "example/face_detection"] {
        let inc = store
            .resolve_update(key, ResolveOptions::new())
            .await
            .unwrap();
        store.write(key, inc.new).await.unwrap();
    }
    store.set_graph(FeatureGraph::from_json(&video_graph_json("2"), Some(8)).unwrap());
    // the video rows belong to the old version of video: crop sees no upstream
    let crop = store
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap();
    assert!(crop.is_empty(), "{:?}", crop.counts());
    store
        .write(
            "example/video",
            video_rows(&[(1, "a1", "f1"), (2, "a2", "f2")]),
        )
        .await
        .unwrap();
    let crop = store
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(int_set(&crop.new, "sample_uid"), set([1, 2]));
    assert_eq!(crop.stale.num_rows(), 0);
    store.write("example/crop", crop.new).await.unwrap();
    // face detection depends on frames only: its version did not change
    let faces = store
        .resolve_update("example/face_detection", ResolveOptions::new())
        .await
        .unwrap();
    assert!(faces.is_empty(), "{:?}", faces.counts());
}

/// Composite string ids, renames, select and a dependency filter.
pub async fn resolve_rename_select_composite(f: &dyn BackendFactory) {
    let g = graph(json!([
        {"key": "people/raw", "id_columns": ["org", "person"], "fields": ["profile", "avatar/small"]},
        {"key": "people/adults", "id_columns": ["org", "person"],
         "deps": [{"feature": "people/raw", "select": ["years", "name"], "rename": {"age": "years"},
                   "sql_filters": ["years >= 18"]}],
         "fields": [{"key": "profile", "code_version": "2"}]},
    ]));
    let store = store(f, g).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write(
            "people/raw",
            batch(json!([
                {"org": "acme", "person": "ann", "age": 30, "name": "A", "secret": "x",
                 "metaxy_provenance_by_field": {"profile": "p1", "avatar_small": "s1"}},
                {"org": "acme", "person": "bob", "age": 12, "name": "B", "secret": "y",
                 "metaxy_provenance_by_field": {"profile": "p2", "avatar_small": "s2"}},
                {"org": "zeta", "person": "ann", "age": 44, "name": "C", "secret": "z",
                 "metaxy_provenance_by_field": {"profile": "p3", "avatar_small": "s3"}},
            ])),
        )
        .await
        .unwrap();
    let inc = store
        .resolve_update("people/adults", ResolveOptions::new())
        .await
        .unwrap();
    let keys: BTreeSet<(String, String)> = rows(&inc.new)
        .into_iter()
        .map(|r| {
            (
                r["org"].as_str().unwrap().to_string(),
                r["person"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [("acme", "ann"), ("zeta", "ann")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    );
    let names: Vec<String> = inc
        .new
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert!(
        names.contains(&"years".to_string()) && names.contains(&"name".to_string()),
        "{names:?}"
    );
    assert!(
        !names.contains(&"secret".to_string()) && !names.contains(&"age".to_string()),
        "{names:?}"
    );
    assert!(
        !names.contains(&columns::DELETED_AT.to_string()),
        "no lifecycle columns leak: {names:?}"
    );
    let h = |s: &str| HashAlgorithm::Xxhash64.hash_str(s, Some(8));
    let ann = rows(&inc.new)
        .into_iter()
        .find(|r| r["org"] == json!("acme"))
        .unwrap();
    assert_eq!(
        ann[columns::PROVENANCE_BY_FIELD]["profile"],
        json!(h("profile|2|people/raw.profile|p1"))
    );
}

/// Upstream reads fall through to a fallback store; writes stay local.
pub async fn resolve_fallback_store(f: &dyn BackendFactory) {
    let prod = store(f, video_graph()).await;
    {
        let _g = prod.open(AccessMode::Write).await.unwrap();
        prod.write(
            "example/video",
            video_rows(&[(1, "a1", "f1"), (2, "a2", "f2")]),
        )
        .await
        .unwrap();
    }
    let dev = store(f, video_graph())
        .await
        .with_fallbacks(vec![prod.clone()])
        .unwrap();
    let _g = dev.open(AccessMode::Write).await.unwrap();
    assert!(!dev.has_feature("example/video", false).await.unwrap());
    assert!(dev.has_feature("example/video", true).await.unwrap());
    let inc = dev
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(int_set(&inc.new, "sample_uid"), set([1, 2]));
    dev.write("example/crop", inc.new).await.unwrap();
    assert!(dev.has_feature("example/crop", false).await.unwrap());
    let _p = prod.open(AccessMode::Read).await.unwrap();
    assert!(
        !prod.has_feature("example/crop", false).await.unwrap(),
        "writes never go to a fallback"
    );
    // a fallback with another hash algorithm is refused
    let other = store_with(f, video_graph(), HashAlgorithm::Md5).await;
    let e = store(f, video_graph())
        .await
        .with_fallbacks(vec![other])
        .unwrap_err();
    assert!(e.to_string().contains("same hash_algorithm"), "{e}");
}

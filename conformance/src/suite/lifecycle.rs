//! The store lifecycle: push, history, graphs loaded from pushed versions (including versions
//! pushed by Python Metaxy), graph diff, rebase, copy and fallback chains.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{ArrayRef, StringArray, TimestampMicrosecondArray, new_null_array};
use arrow_schema::{DataType, TimeUnit};
use metaxy_core::graph::GraphDiff;
use metaxy_core::store::{CopyOptions, feature_versions_key, feature_versions_schema};
use metaxy_core::{
    AccessMode, DeleteOptions, Expr, FeatureKey, ReadOptions, ResolveOptions, WriteOptions, columns,
};
use serde_json::json;

use super::*;

fn key(s: &str) -> FeatureKey {
    FeatureKey::new(s).unwrap()
}

fn project_graph(audio_cv: &str) -> FeatureGraph {
    FeatureGraph::from_json(&video_graph_json(audio_cv), Some(8))
        .unwrap()
        .with_project("demo")
}

/// Pushing records every feature once; pushing again writes nothing; a new code version is a
/// new project version; going back to old definitions records them again.
pub async fn lifecycle_push_and_history(f: &dyn BackendFactory) {
    let store = store(f, project_graph("1")).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    let first = store.push_graph(None, &BTreeMap::new()).await.unwrap();
    assert!(!first.already_pushed);
    assert_eq!(first.rows_written, 4);
    assert_eq!(first.project_version, store.graph().project_version());
    let again = store.push_graph(None, &BTreeMap::new()).await.unwrap();
    assert!(again.already_pushed);
    assert_eq!(again.rows_written, 0, "idempotent");
    assert!(again.updated_features.is_empty());

    store.set_graph(project_graph("2"));
    let second = store
        .push_graph(
            None,
            &[("ci".to_string(), "run-1".to_string())]
                .into_iter()
                .collect(),
        )
        .await
        .unwrap();
    assert_ne!(second.project_version, first.project_version);
    assert_eq!(second.rows_written, 4);
    let history = store.history(None).await.unwrap();
    let versions: Vec<&str> = history.iter().map(|h| h.project_version.as_str()).collect();
    assert_eq!(
        versions,
        vec![
            second.project_version.as_str(),
            first.project_version.as_str()
        ],
        "newest first"
    );
    assert!(history.iter().all(|h| h.feature_count == 4));

    store.set_graph(project_graph("1"));
    let back = store.push_graph(None, &BTreeMap::new()).await.unwrap();
    assert!(!back.already_pushed, "the latest push was another version");
    assert_eq!(back.rows_written, 4);
    assert_eq!(
        store.latest_pushed_version(None).await.unwrap(),
        Some(first.project_version.clone())
    );

    let e = store
        .push_graph(
            None,
            &[("metaxy".to_string(), "x".to_string())]
                .into_iter()
                .collect(),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("reserved"), "{e}");
    // the system table has Metaxy's layout
    let schema = store
        .backend()
        .table_schema(&feature_versions_key())
        .await
        .unwrap()
        .unwrap();
    for field in feature_versions_schema().fields() {
        assert!(
            schema.column_with_name(field.name()).is_some(),
            "missing {}",
            field.name()
        );
    }
}

/// A graph loaded from a pushed version has the same versions; diffs between pushed and
/// current graphs report exactly the changed fields.
pub async fn lifecycle_load_graph_and_diff(f: &dyn BackendFactory) {
    let store = store(f, project_graph("1")).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    let v1 = store
        .push_graph(None, &BTreeMap::new())
        .await
        .unwrap()
        .project_version;
    store.set_graph(project_graph("2"));
    let v2 = store
        .push_graph(None, &BTreeMap::new())
        .await
        .unwrap()
        .project_version;
    let g1 = store.load_graph(None, &v1).await.unwrap();
    let original = project_graph("1");
    for k in original.topological_order() {
        assert_eq!(
            g1.feature_version(k).unwrap(),
            original.feature_version(k).unwrap(),
            "{k}"
        );
    }
    assert_eq!(g1.project_version(), v1);
    let diff = GraphDiff::between(&g1, &store.load_graph(None, &v2).await.unwrap());
    let changed: Vec<&str> = diff.changed.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(
        changed,
        vec!["example/crop", "example/stt", "example/video"]
    );
    let video = diff
        .changed
        .iter()
        .find(|c| c.key == "example/video")
        .unwrap();
    assert_eq!(
        video
            .field_changes
            .iter()
            .map(|c| c.field_key.as_str())
            .collect::<Vec<_>>(),
        vec!["audio"]
    );
    assert_eq!(diff.unchanged, vec!["example/face_detection".to_string()]);
    assert!(
        GraphDiff::between(&store.load_graph(None, &v2).await.unwrap(), &store.graph()).is_empty()
    );
    let e = store.load_graph(None, "deadbeef").await.unwrap_err();
    assert!(e.to_string().contains("run `metaxy push` first"), "{e}");
}

/// Definitions pushed by Python Metaxy 0.1.11 (a recorded `metaxy_system__feature_versions`
/// table) load into graphs with identical feature and field versions.
pub async fn lifecycle_python_pushed_graphs_load(f: &dyn BackendFactory) {
    let fixture: Value =
        serde_json::from_str(include_str!("../../fixtures/python_feature_versions.json")).unwrap();
    let rows = fixture["rows"].as_array().unwrap();
    let text = |name: &str| -> ArrayRef {
        Arc::new(StringArray::from(
            rows.iter()
                .map(|r| r[name].as_str().map(str::to_string))
                .collect::<Vec<_>>(),
        ))
    };
    let recorded: Vec<i64> = rows
        .iter()
        .map(|r| {
            chrono::NaiveDateTime::parse_from_str(
                r["recorded_at"].as_str().unwrap(),
                "%Y-%m-%dT%H:%M:%S%.f",
            )
            .unwrap()
            .and_utc()
            .timestamp_micros()
        })
        .collect();
    let schema = feature_versions_schema();
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| match f.name().as_str() {
            "recorded_at" => {
                Arc::new(TimestampMicrosecondArray::from(recorded.clone())) as ArrayRef
            }
            "deleted_at" => new_null_array(
                &DataType::Timestamp(TimeUnit::Microsecond, None),
                rows.len(),
            ),
            name => text(name),
        })
        .collect();
    let table = RecordBatch::try_new(schema, columns).unwrap();

    let store = store(f, FeatureGraph::new([]).unwrap()).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store
        .write("metaxy-system/feature_versions", table)
        .await
        .unwrap();
    let project = fixture["project"].as_str().unwrap();
    let pushes = fixture["pushes"].as_array().unwrap();
    for push in pushes {
        let pv = push["project_version"].as_str().unwrap();
        let graph = store.load_graph(Some(project), pv).await.unwrap();
        let versions = push["versions"].as_object().unwrap();
        assert_eq!(graph.len(), versions.len());
        for (k, v) in versions {
            let fk = key(k);
            assert_eq!(
                graph.feature_version(&fk).unwrap(),
                v["feature_version"].as_str().unwrap(),
                "{k}"
            );
            for (field, fv) in v["fields"].as_object().unwrap() {
                let got = graph
                    .field_version(&fk, &metaxy_core::FieldKey::new(field).unwrap())
                    .unwrap();
                assert_eq!(got, fv.as_str().unwrap(), "{k}.{field}");
            }
        }
    }
    let history = store.history(Some(project)).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        history[0].project_version,
        pushes[1]["project_version"].as_str().unwrap()
    );
}

/// Rebase carries rows of an older feature version onto the current one: no recomputation
/// is reported afterwards, and user data versions survive.
pub async fn lifecycle_rebase(f: &dyn BackendFactory) {
    let crop_cv = |cv: &str| {
        let mut g = video_graph_json("1");
        g[1]["fields"][0]["code_version"] = json!(cv);
        FeatureGraph::from_json(&g, Some(8))
            .unwrap()
            .with_project("demo")
    };
    let store = store(f, crop_cv("1")).await;
    let _g = store.open(AccessMode::Write).await.unwrap();
    store.push_graph(None, &BTreeMap::new()).await.unwrap();
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
    // sample 2 carries a user data version (a content hash of the crop)
    let mut rows = rows(&inc.new);
    for r in rows.iter_mut() {
        // without the sample hash column, write computes it from the data versions
        r.remove(columns::DATA_VERSION);
        if r["sample_uid"] == json!(2) {
            r.insert(
                columns::DATA_VERSION_BY_FIELD.into(),
                json!({"audio": "content-a", "frames": "content-f"}),
            );
        }
    }
    store
        .write(
            "example/crop",
            batch(Value::Array(rows.into_iter().map(Value::Object).collect())),
        )
        .await
        .unwrap();
    let old_fv = store
        .graph()
        .feature_version(&key("example/crop"))
        .unwrap()
        .to_string();

    store.set_graph(crop_cv("2"));
    let inc = store
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap();
    assert_eq!(
        inc.new.num_rows(),
        2,
        "a new feature version: everything is new until rebased"
    );
    let old = store
        .read(
            "example/crop",
            ReadOptions::new().feature_version(old_fv.clone()),
        )
        .await
        .unwrap();
    let rebased = store.rebase("example/crop", old, None).await.unwrap();
    assert_eq!(rebased.num_rows(), 2);
    store
        .write_with(
            "example/crop",
            rebased,
            WriteOptions {
                preserve_feature_version: true,
                ..WriteOptions::default()
            },
        )
        .await
        .unwrap();
    let inc = store
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap();
    assert!(
        inc.is_empty(),
        "rebased rows are current: {:?}",
        inc.counts()
    );
    let now = store
        .read("example/crop", ReadOptions::new())
        .await
        .unwrap();
    for r in super::rows(&now) {
        if r["sample_uid"] == json!(2) {
            assert_eq!(
                r[columns::DATA_VERSION_BY_FIELD],
                json!({"audio": "content-a", "frames": "content-f"})
            );
        } else {
            assert_eq!(
                r[columns::DATA_VERSION_BY_FIELD],
                r[columns::PROVENANCE_BY_FIELD]
            );
        }
    }
    // rebasing a root feature is refused; an unknown target version says to push
    let e = store
        .rebase("example/video", now.clone(), None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("Cannot rebase root feature"), "{e}");
    let e = store
        .rebase("example/crop", now, Some("0000beef"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("Run metaxy push first"), "{e}");
    // rebasing back onto the pushed old version works from the recorded definitions
    let current = store
        .read("example/crop", ReadOptions::new())
        .await
        .unwrap();
    let back = store
        .rebase("example/crop", current, Some(&old_fv))
        .await
        .unwrap();
    assert_eq!(
        column(&back, columns::FEATURE_VERSION),
        vec![json!(old_fv.clone()), json!(old_fv)]
    );
}

/// Copy carries rows (with their versions, timestamps and tombstones) between stores.
pub async fn lifecycle_copy(f: &dyn BackendFactory) {
    let source = store(f, video_graph()).await;
    let target = store(f, video_graph()).await;
    let _s = source.open(AccessMode::Write).await.unwrap();
    source
        .write(
            "example/video",
            video_rows(&[(1, "a1", "f1"), (2, "a2", "f2"), (3, "a3", "f3")]),
        )
        .await
        .unwrap();
    source
        .delete(
            "example/video",
            Some(Expr::parse("sample_uid = 3").unwrap()),
            DeleteOptions::soft(),
        )
        .await
        .unwrap();
    let inc = source
        .resolve_update("example/crop", ResolveOptions::new())
        .await
        .unwrap();
    source.write("example/crop", inc.new).await.unwrap();
    let _t = target.open(AccessMode::Write).await.unwrap();
    let result = target
        .copy_metadata(&source, None, CopyOptions::default())
        .await
        .unwrap();
    assert_eq!(
        result.features_copied, 2,
        "stt and face detection have nothing to copy"
    );
    assert_eq!(result.rows_copied, 5);
    for key in ["example/video", "example/crop"] {
        let a = source
            .read(key, ReadOptions::new().include_soft_deleted(true))
            .await
            .unwrap();
        let b = target
            .read(key, ReadOptions::new().include_soft_deleted(true))
            .await
            .unwrap();
        let cols = [
            "sample_uid",
            columns::PROVENANCE,
            columns::FEATURE_VERSION,
            columns::UPDATED_AT,
            columns::CREATED_AT,
            columns::DELETED_AT,
        ];
        let pick = |batch: &RecordBatch| -> Vec<String> {
            let mut v: Vec<String> = super::rows(batch)
                .into_iter()
                .map(|r| {
                    cols.iter()
                        .map(|c| r[*c].to_string())
                        .collect::<Vec<_>>()
                        .join("|")
                })
                .collect();
            v.sort();
            v
        };
        assert_eq!(pick(&a), pick(&b), "{key}");
    }
    let live = target
        .read("example/video", ReadOptions::new())
        .await
        .unwrap();
    assert_eq!(
        int_set(&live, "sample_uid"),
        set([1, 2]),
        "the tombstone came along"
    );
    assert!(
        target
            .resolve_update("example/crop", ResolveOptions::new())
            .await
            .unwrap()
            .is_empty()
    );
}

/// Reads fall through a chain in order; the first store that has the feature serves all of
/// its rows; soft deletes through a fallback create local tombstones that shadow it.
pub async fn lifecycle_fallback_chain(f: &dyn BackendFactory) {
    let prod = store(f, video_graph()).await;
    let staging = store(f, video_graph()).await;
    {
        let _p = prod.open(AccessMode::Write).await.unwrap();
        prod.write(
            "example/video",
            video_rows(&[(1, "a1", "f1"), (2, "a2", "f2")]),
        )
        .await
        .unwrap();
        let inc = prod
            .resolve_update("example/crop", ResolveOptions::new())
            .await
            .unwrap();
        prod.write("example/crop", inc.new).await.unwrap();
        let _s = staging.open(AccessMode::Write).await.unwrap();
        staging
            .write("example/video", video_rows(&[(7, "a7", "f7")]))
            .await
            .unwrap();
    }
    let dev = store(f, video_graph())
        .await
        .with_fallbacks(vec![staging.clone(), prod.clone()])
        .unwrap();
    let _d = dev.open(AccessMode::Write).await.unwrap();
    let video = dev.read("example/video", ReadOptions::new()).await.unwrap();
    assert_eq!(
        int_set(&video, "sample_uid"),
        set([7]),
        "staging comes first and serves all rows"
    );
    let crop = dev.read("example/crop", ReadOptions::new()).await.unwrap();
    assert_eq!(int_set(&crop, "sample_uid"), set([1, 2]), "prod has crop");
    assert!(
        dev.read("example/crop", ReadOptions::new().allow_fallback(false))
            .await
            .is_err()
    );
    dev.delete(
        "example/crop",
        Some(Expr::parse("sample_uid = 1").unwrap()),
        DeleteOptions::soft(),
    )
    .await
    .unwrap();
    let crop = dev.read("example/crop", ReadOptions::new()).await.unwrap();
    assert!(
        crop.num_rows() == 0,
        "the local tombstones now shadow prod entirely"
    );
    let _p = prod.open(AccessMode::Read).await.unwrap();
    assert_eq!(
        prod.read("example/crop", ReadOptions::new())
            .await
            .unwrap()
            .num_rows(),
        2,
        "prod untouched"
    );
}

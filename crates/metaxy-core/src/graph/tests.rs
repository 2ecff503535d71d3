//! Definition-level versions against the reference's pinned values, and graph validation.

use super::*;
use crate::spec::{Dep, FeatureSpec, Field, FieldsMapping};

fn key(s: &str) -> FeatureKey {
    FeatureKey::new(s).unwrap()
}

fn field(s: &str) -> FieldKey {
    FieldKey::new(s).unwrap()
}

fn overview() -> FeatureGraph {
    let video = FeatureSpec::builder("example/video")
        .id_columns(["video_id"])
        .field(Field::new("audio").code_version("1"))
        .field(Field::new("frames").code_version("1"))
        .build()
        .unwrap();
    let crop = FeatureSpec::builder("example/crop")
        .id_columns(["video_id"])
        .dep(Dep::on("example/video"))
        .field(Field::new("audio").code_version("1"))
        .field(Field::new("frames").code_version("1"))
        .build()
        .unwrap();
    let faces = FeatureSpec::builder("example/face_detection")
        .id_columns(["video_id"])
        .dep(Dep::on("example/crop"))
        .field(
            Field::new("faces")
                .code_version("1")
                .depends_on("example/crop", ["frames"]),
        )
        .build()
        .unwrap();
    FeatureGraph::new([faces, crop, video]).unwrap()
}

#[test]
fn worked_example_of_the_reference() {
    let g = overview();
    let v = key("example/video");
    let c = key("example/crop");
    let f = key("example/face_detection");
    assert_eq!(g.field_version(&v, &field("audio")).unwrap(), "22742381");
    assert_eq!(g.field_version(&v, &field("frames")).unwrap(), "794116a9");
    assert_eq!(g.feature_version(&v).unwrap(), "c2ac395f");
    assert_eq!(g.field_version(&c, &field("audio")).unwrap(), "4c726c4b");
    assert_eq!(g.field_version(&c, &field("frames")).unwrap(), "2419e09d");
    assert_eq!(g.feature_version(&c).unwrap(), "34d75856");
    assert_eq!(g.field_version(&f, &field("faces")).unwrap(), "006efeef");
    assert_eq!(g.feature_version(&f).unwrap(), "f1526ee0");
    assert_eq!(g.code_version(&v).unwrap(), "7957714b");
    assert_eq!(
        g.topological_order()
            .iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>(),
        vec!["example/video", "example/crop", "example/face_detection"]
    );
    assert_eq!(g.downstream_of(std::slice::from_ref(&v)), vec![c, f]);
}

#[test]
fn other_pinned_values() {
    let t = FeatureSpec::builder("test/feature")
        .id_columns(["sample_uid"])
        .field(Field::new("default").code_version("1"))
        .build()
        .unwrap();
    let p = FeatureSpec::builder("parent")
        .id_columns(["sample_uid"])
        .field(Field::new("field1").code_version("1"))
        .field(Field::new("field2").code_version("2"))
        .build()
        .unwrap();
    let g = FeatureGraph::new([t, p]).unwrap();
    assert_eq!(
        g.field_version(&key("test/feature"), &field("default"))
            .unwrap(),
        "8bcff601"
    );
    assert_eq!(g.feature_version(&key("test/feature")).unwrap(), "d26937b1");
    assert_eq!(
        g.field_version(&key("parent"), &field("field1")).unwrap(),
        "86c9112b"
    );
    assert_eq!(
        g.field_version(&key("parent"), &field("field2")).unwrap(),
        "d3d95402"
    );
    assert_eq!(g.feature_version(&key("parent")).unwrap(), "9a7207d5");
    assert_eq!(g.spec_version(&key("test/feature")).unwrap(), "a5eea973");
}

#[test]
fn field_level_isolation_of_versions() {
    let g1 = overview();
    // bump video.audio: crop changes, face detection (frames only) does not
    let specs: Vec<FeatureSpec> = g1
        .specs()
        .cloned()
        .map(|mut s| {
            if s.key == key("example/video") {
                s.fields[0].code_version = "2".into();
            }
            s
        })
        .collect();
    let g2 = FeatureGraph::new(specs).unwrap();
    for (k, changes) in [
        ("example/video", true),
        ("example/crop", true),
        ("example/face_detection", false),
    ] {
        assert_eq!(
            g1.feature_version(&key(k)).unwrap() != g2.feature_version(&key(k)).unwrap(),
            changes,
            "{k}"
        );
    }
}

#[test]
fn plans_resolve_field_parents_and_join_columns() {
    let g = overview();
    let plan = g.plan(&key("example/face_detection")).unwrap();
    assert_eq!(plan.join_columns, vec!["video_id".to_string()]);
    let parents: Vec<&str> = plan.field_parents[0]
        .iter()
        .map(|p| p.fq_string.as_str())
        .collect();
    assert_eq!(parents, vec!["example/crop.frames"]);
    let plan = g.plan(&key("example/crop")).unwrap();
    assert_eq!(plan.field_parents[0][0].fq_string, "example/video.audio");
    assert_eq!(plan.field_parents[1][0].fq_string, "example/video.frames");
}

#[test]
fn invalid_graphs_are_rejected_with_clear_errors() {
    let root = |k: &str| FeatureSpec::builder(k).id_columns(["id"]).build().unwrap();
    let dep = |k: &str, on: &str| {
        FeatureSpec::builder(k)
            .id_columns(["id"])
            .dep(Dep::on(on))
            .build()
            .unwrap()
    };

    let e = FeatureGraph::new([dep("a", "b"), dep("b", "c"), dep("c", "a")]).unwrap_err();
    assert!(matches!(e, Error::CyclicGraph { .. }), "{e}");
    assert!(e.to_string().contains("a -> b -> c -> a"), "{e}");

    let e = FeatureGraph::new([dep("a", "missing")]).unwrap_err();
    assert!(matches!(e, Error::MissingDependency { .. }), "{e}");

    let e = FeatureGraph::new([root("a"), root("a")]).unwrap_err();
    assert!(matches!(e, Error::DuplicateFeature { .. }), "{e}");

    let e = FeatureGraph::new([root("metaxy-system/x")]).unwrap_err();
    assert!(matches!(e, Error::ReservedKey { .. }), "{e}");

    let e = FeatureGraph::new([root("a-b/c"), root("a_b/c")]).unwrap_err();
    assert!(matches!(e, Error::NameCollision { .. }), "{e}");

    // explicit dep on a field the upstream does not have
    let bad_field = FeatureSpec::builder("d")
        .id_columns(["id"])
        .dep(Dep::on("a"))
        .field(Field::new("x").depends_on("a", ["nope"]))
        .build()
        .unwrap();
    let e = FeatureGraph::new([root("a"), bad_field]).unwrap_err();
    assert!(matches!(e, Error::FieldMapping { .. }), "{e}");
    assert!(e.to_string().contains("no such field"), "{e}");

    // explicit dep on a feature that is not a dependency
    let not_a_dep = FeatureSpec::builder("d")
        .id_columns(["id"])
        .dep(Dep::on("a"))
        .field(Field::new("x").depends_on("b", ["default"]))
        .build()
        .unwrap();
    let e = FeatureGraph::new([root("a"), root("b"), not_a_dep]).unwrap_err();
    assert!(e.to_string().contains("not a dependency"), "{e}");

    // a mapping that resolves to nothing
    let none = FeatureSpec::builder("d")
        .id_columns(["id"])
        .dep(Dep::on("a").fields_mapping(FieldsMapping::None))
        .build()
        .unwrap();
    let e = FeatureGraph::new([root("a"), none]).unwrap_err();
    assert!(e.to_string().contains("No upstream fields found"), "{e}");

    // renaming onto an upstream id column
    let clash = FeatureSpec::builder("d")
        .id_columns(["id"])
        .dep(Dep::on("a").rename("x", "id"))
        .build()
        .unwrap();
    let e = FeatureGraph::new([root("a"), clash]).unwrap_err();
    assert!(e.to_string().contains("id column"), "{e}");
}

#[test]
fn json_round_trip_of_a_graph() {
    let g = overview();
    let again = FeatureGraph::from_json(&g.to_json(), Some(8)).unwrap();
    for k in g.topological_order() {
        assert_eq!(
            g.feature_version(k).unwrap(),
            again.feature_version(k).unwrap()
        );
    }
    assert_eq!(g.project_version(), again.project_version());
    assert_eq!(FeatureGraph::new([]).unwrap().project_version(), "empty");
}

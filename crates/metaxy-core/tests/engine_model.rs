//! Property test: the columnar engine against a naive row-by-row model of Metaxy's
//! semantics, on random graphs (1–3 upstreams, optional deps, automatic / ALL / explicit field
//! deps) and random data (missing rows, stale and orphaned stored samples).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray, StructArray};
use arrow_schema::{DataType, Field as ArrowField};
use metaxy_core::spec::{Dep, Field};
use metaxy_core::store::StoreSettings;
use metaxy_core::{
    AccessMode, FeatureGraph, FeatureSpec, HashAlgorithm, MemoryBackend, MetadataStore,
    ResolveOptions,
};
use proptest::prelude::*;

const FIELD_NAMES: [&str; 4] = ["audio", "frames", "text", "meta"];

#[derive(Clone, Debug)]
enum FieldDepChoice {
    Auto,
    All,
    /// (upstream index, field indices)
    Explicit(Vec<(usize, Vec<usize>)>),
}

#[derive(Clone, Debug)]
struct Scenario {
    /// Per upstream: its fields.
    upstream_fields: Vec<Vec<&'static str>>,
    optional: Vec<bool>,
    /// Downstream fields and their dependency choice.
    down_fields: Vec<(&'static str, String, FieldDepChoice)>,
    /// Per upstream: id → field values.
    data: Vec<BTreeMap<i64, Vec<String>>>,
    /// Stored downstream samples: id → Some(correct?) (false = garbage provenance).
    current: BTreeMap<i64, bool>,
    algorithm: HashAlgorithm,
    /// Write rows in descending id order (the engine's hash-based paths) instead of ascending
    /// (its merge paths).
    descending: bool,
    /// Write every upstream twice, first with other values (keep-latest across appends).
    rewritten: bool,
    /// Write each upstream's (latest) rows in two appends, so that the engine reads them as
    /// pieces (a feature of one dependency hashes them where they lie).
    split: bool,
}

fn fields_strategy() -> impl Strategy<Value = Vec<&'static str>> {
    proptest::sample::subsequence(FIELD_NAMES.to_vec(), 1..=3)
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        1usize..=3,
        prop::sample::select(HashAlgorithm::ALL.to_vec()),
    )
        .prop_flat_map(|(n_up, algorithm)| {
            let ups = prop::collection::vec(fields_strategy(), n_up);
            let optional = prop::collection::vec(any::<bool>(), n_up);
            (ups, optional, Just(algorithm))
        })
        .prop_flat_map(|(ups, optional, algorithm)| {
            let n_up = ups.len();
            let ups2 = ups.clone();
            let choice = (
                0u8..3,
                prop::collection::vec((0..n_up, prop::collection::vec(0usize..3, 1..3)), 1..3),
            )
                .prop_map(move |(kind, explicit)| match kind {
                    0 => FieldDepChoice::Auto,
                    1 => FieldDepChoice::All,
                    _ => FieldDepChoice::Explicit(
                        explicit
                            .into_iter()
                            .map(|(u, fs)| {
                                let n = ups2[u].len();
                                let mut fs: Vec<usize> = fs.into_iter().map(|f| f % n).collect();
                                fs.sort();
                                fs.dedup();
                                (u, fs)
                            })
                            .collect(),
                    ),
                });
            let down = proptest::sample::subsequence(FIELD_NAMES.to_vec(), 1..=2).prop_flat_map(
                move |names| {
                    let n = names.len();
                    (
                        Just(names),
                        prop::collection::vec(("[12]", choice.clone()), n),
                    )
                },
            );
            let data = ups
                .iter()
                .map(|fields| {
                    let n = fields.len();
                    prop::collection::btree_map(
                        0i64..12,
                        prop::collection::vec("[a-c]{1,2}", n),
                        0..10,
                    )
                })
                .collect::<Vec<_>>();
            let current = prop::collection::btree_map(0i64..14, any::<bool>(), 0..10);
            (
                Just(ups),
                Just(optional),
                down,
                data,
                current,
                Just(algorithm),
                any::<(bool, bool, bool)>(),
            )
        })
        .prop_map(
            |(
                ups,
                optional,
                (names, choices),
                data,
                current,
                algorithm,
                (descending, rewritten, split),
            )| Scenario {
                upstream_fields: ups,
                optional,
                down_fields: names
                    .into_iter()
                    .zip(choices)
                    .map(|(n, (cv, c))| (n, cv, c))
                    .collect(),
                data,
                current,
                algorithm,
                descending,
                rewritten,
                split,
            },
        )
}

fn upstream_key(i: usize) -> String {
    format!("up/u{i}")
}

fn graph(s: &Scenario) -> FeatureGraph {
    let mut specs = Vec::new();
    for (i, fields) in s.upstream_fields.iter().enumerate() {
        let mut b = FeatureSpec::builder(upstream_key(i)).id_columns(["sample_uid"]);
        for f in fields {
            b = b.field(Field::new(*f).code_version("1"));
        }
        specs.push(b.build().unwrap());
    }
    let mut b = FeatureSpec::builder("down/feature").id_columns(["sample_uid"]);
    for (i, opt) in s.optional.iter().enumerate() {
        let d = Dep::on(upstream_key(i));
        b = b.dep(if *opt { d.optional() } else { d });
    }
    for (name, cv, choice) in &s.down_fields {
        let mut f = Field::new(*name).code_version(cv.clone());
        match choice {
            FieldDepChoice::Auto => {}
            FieldDepChoice::All => f = f.depends_on_everything(),
            FieldDepChoice::Explicit(list) => {
                for (u, fs) in list {
                    let names: Vec<&str> = fs.iter().map(|i| s.upstream_fields[*u][*i]).collect();
                    f = f.depends_on(upstream_key(*u), names);
                }
            }
        }
        b = b.field(f);
    }
    specs.push(b.build().unwrap());
    FeatureGraph::new(specs).unwrap()
}

/// The naive model: parents of a downstream field as (upstream index, field name), sorted by
/// their "<feature>.<field>" string.
fn parents(s: &Scenario, name: &str, choice: &FieldDepChoice) -> Vec<(usize, &'static str)> {
    let mut out: Vec<(usize, &'static str)> = Vec::new();
    match choice {
        FieldDepChoice::All => {
            for (u, fs) in s.upstream_fields.iter().enumerate() {
                out.extend(fs.iter().map(|f| (u, *f)));
            }
        }
        FieldDepChoice::Explicit(list) => {
            for (u, fs) in list {
                out.extend(fs.iter().map(|i| (*u, s.upstream_fields[*u][*i])));
            }
        }
        FieldDepChoice::Auto => {
            for (u, fs) in s.upstream_fields.iter().enumerate() {
                if fs.contains(&name) {
                    out.push((
                        u,
                        s.upstream_fields[u][fs.iter().position(|f| *f == name).unwrap()],
                    ));
                } else {
                    out.extend(fs.iter().map(|f| (u, *f)));
                }
            }
        }
    }
    out.sort_by_key(|(u, f)| format!("{}.{}", upstream_key(*u), f));
    out.dedup();
    out
}

/// The naive model of the expected provenance: id → (by_field, sample hash).
fn model(s: &Scenario) -> BTreeMap<i64, (BTreeMap<String, String>, String)> {
    let required: Vec<usize> = (0..s.optional.len()).filter(|i| !s.optional[*i]).collect();
    let ids: BTreeSet<i64> = if required.is_empty() {
        s.data.iter().flat_map(|d| d.keys().copied()).collect()
    } else {
        s.data[required[0]]
            .keys()
            .copied()
            .filter(|id| required.iter().all(|r| s.data[*r].contains_key(id)))
            .collect()
    };
    let h = |x: &str| s.algorithm.hash_str(x, Some(8));
    ids.into_iter()
        .map(|id| {
            let mut by_field = BTreeMap::new();
            for (name, cv, choice) in &s.down_fields {
                let mut parts = vec![name.to_string(), cv.clone()];
                for (u, f) in parents(s, name, choice) {
                    parts.push(format!("{}.{}", upstream_key(u), f));
                    let idx = s.upstream_fields[u].iter().position(|x| *x == f).unwrap();
                    parts.push(
                        s.data[u]
                            .get(&id)
                            .map(|v| v[idx].clone())
                            .unwrap_or_default(),
                    );
                }
                by_field.insert(name.to_string(), h(&parts.join("|")));
            }
            let sample = h(&by_field.values().cloned().collect::<Vec<_>>().join("|"));
            (id, (by_field, sample))
        })
        .collect()
}

fn frame(ids: Vec<i64>, fields: &[&str], values: Vec<Vec<String>>) -> RecordBatch {
    let children: Vec<(Arc<ArrowField>, ArrayRef)> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            (
                Arc::new(ArrowField::new(*f, DataType::Utf8, false)),
                Arc::new(StringArray::from(
                    values.iter().map(|v| v[i].clone()).collect::<Vec<_>>(),
                )) as ArrayRef,
            )
        })
        .collect();
    let pbf = if children.is_empty() {
        StructArray::new_empty_fields(ids.len(), None)
    } else {
        StructArray::from(children)
    };
    RecordBatch::try_from_iter(vec![
        ("sample_uid", Arc::new(Int64Array::from(ids)) as ArrayRef),
        ("metaxy_provenance_by_field", Arc::new(pbf) as ArrayRef),
    ])
    .unwrap()
}

fn strings(b: &RecordBatch, col: &str) -> Vec<String> {
    let a = b.column_by_name(col).unwrap();
    let a = a.as_any().downcast_ref::<StringArray>().unwrap();
    (0..a.len()).map(|i| a.value(i).to_string()).collect()
}

fn ints(b: &RecordBatch) -> Vec<i64> {
    let a = b.column_by_name("sample_uid").unwrap();
    a.as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .values()
        .to_vec()
}

/// `v` as it is, or reversed.
fn in_order<T>(mut v: Vec<T>, descending: bool) -> Vec<T> {
    if descending {
        v.reverse();
    }
    v
}

async fn run(
    s: &Scenario,
) -> (
    BTreeMap<i64, String>,
    BTreeSet<i64>,
    BTreeSet<i64>,
    BTreeSet<i64>,
) {
    let store = MetadataStore::with_settings(
        Arc::new(MemoryBackend::new()),
        graph(s),
        StoreSettings {
            hash_algorithm: s.algorithm,
            ..StoreSettings::default()
        },
    );
    let _g = store.open(AccessMode::Write).await.unwrap();
    let ordered = |v| in_order(v, s.descending);
    let ordered_ids = |v| in_order(v, s.descending);
    for (u, data) in s.data.iter().enumerate() {
        let ids: Vec<i64> = ordered_ids(data.keys().copied().collect());
        let values: Vec<Vec<String>> = ordered(data.values().cloned().collect());
        if s.rewritten {
            let old = values
                .iter()
                .map(|v| v.iter().map(|x| format!("old-{x}")).collect())
                .collect();
            store
                .write(
                    upstream_key(u),
                    frame(ids.clone(), &s.upstream_fields[u], old),
                )
                .await
                .unwrap();
        }
        // split in two appends only when both get rows (an empty upstream is written empty)
        let cut = if s.split && ids.len() >= 2 {
            ids.len() / 2
        } else {
            0
        };
        let appends = [(&ids[..cut], &values[..cut]), (&ids[cut..], &values[cut..])];
        for (ids, values) in appends.into_iter().skip(usize::from(cut == 0)) {
            store
                .write(
                    upstream_key(u),
                    frame(ids.to_vec(), &s.upstream_fields[u], values.to_vec()),
                )
                .await
                .unwrap();
        }
    }
    let expected = model(s);
    if !s.current.is_empty() {
        let names: Vec<&str> = s.down_fields.iter().map(|(n, _, _)| *n).collect();
        let mut ids = Vec::new();
        let mut values = Vec::new();
        for (id, correct) in &s.current {
            ids.push(*id);
            values.push(
                names
                    .iter()
                    .map(|n| match (correct, expected.get(id)) {
                        (true, Some((by_field, _))) => by_field[*n].clone(),
                        _ => "garbage".to_string(),
                    })
                    .collect(),
            );
        }
        store
            .write(
                "down/feature",
                frame(ordered_ids(ids), &names, ordered(values)),
            )
            .await
            .unwrap();
    }
    let inc = store
        .resolve_update("down/feature", ResolveOptions::new())
        .await
        .unwrap();
    let mut provenance = BTreeMap::new();
    for b in [&inc.new, &inc.stale] {
        for (id, p) in ints(b).into_iter().zip(strings(b, "metaxy_provenance")) {
            provenance.insert(id, p);
        }
    }
    (
        provenance,
        ints(&inc.new).into_iter().collect(),
        ints(&inc.stale).into_iter().collect(),
        ints(&inc.orphaned).into_iter().collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_the_row_by_row_model(s in scenario()) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (provenance, new, stale, orphaned) = runtime.block_on(run(&s));
        let expected = model(&s);
        let exp_ids: BTreeSet<i64> = expected.keys().copied().collect();
        let cur_ids: BTreeSet<i64> = s.current.keys().copied().collect();
        let want_new: BTreeSet<i64> = exp_ids.difference(&cur_ids).copied().collect();
        let want_stale: BTreeSet<i64> = s.current.iter()
            .filter(|(id, correct)| exp_ids.contains(id) && !**correct)
            .map(|(id, _)| *id)
            .collect();
        let want_orphaned: BTreeSet<i64> = cur_ids.difference(&exp_ids).copied().collect();
        prop_assert_eq!(&new, &want_new);
        prop_assert_eq!(&stale, &want_stale);
        prop_assert_eq!(&orphaned, &want_orphaned);
        for (id, p) in provenance {
            prop_assert_eq!(&p, &expected[&id].1, "sample {}", id);
        }
    }
}

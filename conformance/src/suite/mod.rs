//! The shared behaviour suite (reference section 4.16), written once against
//! [`MetadataStore`]. Every function takes a [`BackendFactory`] and panics on a violation;
//! [`backend_tests!`](crate::backend_tests) turns them into one `#[tokio::test]` each.

pub mod crud;
pub mod deletion;
pub mod errors;
pub mod filters;
pub mod lifecycle;
pub mod resolve;
pub mod versioning;
pub mod writes;

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow_array::RecordBatch;
use metaxy_core::store::StoreSettings;
use metaxy_core::{Backend, FeatureGraph, HashAlgorithm, MetadataStore};
use serde_json::{Map, Value};

use crate::factory::BackendFactory;
use crate::rows::{batch_to_rows, rows_to_batch};

pub use crud::*;
pub use deletion::*;
pub use errors::*;
pub use filters::*;
pub use lifecycle::*;
pub use resolve::*;
pub use versioning::*;
pub use writes::*;

/// Calls `$callback!(($args); name, name, ...)` with the name of every behaviour of the suite:
/// the one list both [`backend_tests!`](crate::backend_tests) and [`all`] are generated from.
#[doc(hidden)]
#[macro_export]
macro_rules! __for_each_suite_test {
    ($callback:ident ! ($($args:tt)*)) => {
        $crate::$callback!(($($args)*);
            crud_has_feature, crud_requires_open, crud_write_requires_write_mode, crud_nested_open_modes,
            crud_filters_after_dedup, crud_timestamps, crud_read_columns_exact, crud_unknown_and_unwritten,
            crud_list_and_drop, crud_display_and_name, crud_data_survives_reopen,
            deletion_soft_hidden_by_default, deletion_write_delete_write, deletion_soft_historical_hides_sample,
            deletion_soft_then_overwrite_restores, deletion_hard_removes_rows, deletion_hard_historical_keeps_latest,
            deletion_predicate_shapes, deletion_without_filter, deletion_hard_datetime_filter,
            deletion_soft_preserves_timestamps, deletion_missing_feature_is_noop,
            filters_read_on_own_column, filters_read_columns_and_other_column, filters_target_child_only_column,
            filters_global_child_only_column_fails, filters_dependency_filters, filters_target_vs_own_filters,
            filters_global_filters_scope, filters_malformed,
            resolve_root_requires_samples, resolve_root_with_samples, resolve_downstream_field_level,
            resolve_idempotent, resolve_optional_dependency, resolve_all_optional_outer_join,
            resolve_missing_optional_table, resolve_missing_required_table, resolve_aggregation,
            resolve_expansion, resolve_identity_repeated_writes, resolve_staleness_predicates,
            resolve_skip_comparison, resolve_feature_version_change_is_new, resolve_rename_select_composite,
            resolve_fallback_store,
            versioning_hash_algorithms, versioning_truncation, versioning_data_version_override,
            versioning_duplicate_timestamps, versioning_latest_by_timestamp,
            versioning_timestamp_tie_broken_by_provenance, versioning_rewrite_delete_and_extend,
            writes_system_columns, writes_materialization_id, writes_latest_wins, writes_overwrite_updated_at,
            writes_keep_given_provenance, writes_data_version_filling, writes_drop_stale_fields,
            writes_preserve_feature_version, writes_schema_evolution,
            errors_missing_provenance, errors_null_ids, errors_missing_field, errors_duplicate_ids,
            errors_unknown_feature, errors_type_conflict_loses_nothing, errors_provenance_not_struct,
            lifecycle_push_and_history, lifecycle_load_graph_and_diff, lifecycle_python_pushed_graphs_load,
            lifecycle_rebase, lifecycle_copy, lifecycle_fallback_chain,
        );
    };
}

/// Generates one `#[tokio::test]` per suite behaviour for a backend factory expression.
///
/// ```text
/// metaxy_conformance::backend_tests!(metaxy_conformance::MemoryFactory);
/// ```
/// The test crate needs `tokio` (with `macros` and `rt-multi-thread`) as a dev-dependency.
#[macro_export]
macro_rules! backend_tests {
    ($factory:expr) => {
        $crate::__for_each_suite_test!(__backend_tests_each!($factory));
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __backend_tests_each {
    (($factory:expr); $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::suite::$name(&$factory).await;
            }
        )*
    };
}

/// A future running one behaviour against a factory.
pub type SuiteFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;

/// One behaviour of the suite, for harnesses that list tests at run time (e.g. to report
/// them as ignored when a server is not configured).
#[derive(Clone, Copy)]
pub struct SuiteTest {
    /// The behaviour's name.
    pub name: &'static str,
    /// Runs it.
    pub run: for<'a> fn(&'a dyn BackendFactory) -> SuiteFuture<'a>,
}

#[doc(hidden)]
#[macro_export]
macro_rules! __suite_list {
    (($($unused:tt)*); $($name:ident),* $(,)?) => {
        /// Every behaviour of the suite.
        pub fn all() -> Vec<SuiteTest> {
            vec![$(
                SuiteTest {
                    name: stringify!($name),
                    run: {
                        fn run<'a>(f: &'a dyn BackendFactory) -> SuiteFuture<'a> {
                            Box::pin($name(f))
                        }
                        run
                    },
                },
            )*]
        }
    };
}

crate::__for_each_suite_test!(__suite_list!());

/// A store over a fresh backend with xxhash64 (as the reference suite uses).
pub async fn store(f: &dyn BackendFactory, graph: FeatureGraph) -> MetadataStore {
    store_with(f, graph, HashAlgorithm::Xxhash64).await
}

/// A store over a fresh backend with the given algorithm.
pub async fn store_with(
    f: &dyn BackendFactory,
    graph: FeatureGraph,
    algorithm: HashAlgorithm,
) -> MetadataStore {
    let backend: Arc<dyn Backend> = f.fresh().await.expect("create a fresh backend");
    MetadataStore::with_settings(
        backend,
        graph,
        StoreSettings {
            hash_algorithm: algorithm,
            ..StoreSettings::default()
        },
    )
}

/// A batch from a JSON array of row objects.
pub fn batch(rows: Value) -> RecordBatch {
    let rows = rows.as_array().cloned().expect("a JSON array of rows");
    rows_to_batch(&rows).expect("rows convert to Arrow")
}

/// The rows of a batch as JSON objects.
pub fn rows(b: &RecordBatch) -> Vec<Map<String, Value>> {
    batch_to_rows(b).expect("batch converts to JSON")
}

/// The values of one column, in row order.
pub fn column(b: &RecordBatch, name: &str) -> Vec<Value> {
    rows(b)
        .into_iter()
        .map(|r| r.get(name).cloned().unwrap_or(Value::Null))
        .collect()
}

/// The integer values of a column as a sorted set.
pub fn int_set(b: &RecordBatch, name: &str) -> BTreeSet<i64> {
    column(b, name)
        .into_iter()
        .map(|v| {
            v.as_i64()
                .unwrap_or_else(|| panic!("`{name}` holds a non-integer {v}"))
        })
        .collect()
}

/// The string values of a column as a sorted set.
pub fn str_set(b: &RecordBatch, name: &str) -> BTreeSet<String> {
    column(b, name)
        .into_iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        })
        .collect()
}

/// `{i, ...}` as a set.
pub fn set<const N: usize>(values: [i64; N]) -> BTreeSet<i64> {
    values.into_iter().collect()
}

/// The feature graph of Metaxy's overview: video → crop → face_detection (frames only), and
/// video → stt (audio only).
pub fn video_graph() -> FeatureGraph {
    FeatureGraph::from_json(&video_graph_json("1"), Some(8)).expect("valid graph")
}

/// The overview graph with `example/video.audio` at the given code version.
pub fn video_graph_json(audio_code_version: &str) -> Value {
    let dep = |f: &str| serde_json::json!({"feature": f});
    serde_json::json!([
        {"key": "example/video", "id_columns": ["sample_uid"],
         "fields": [{"key": "audio", "code_version": audio_code_version}, {"key": "frames", "code_version": "1"}]},
        {"key": "example/crop", "id_columns": ["sample_uid"], "deps": [dep("example/video")],
         "fields": [{"key": "audio", "code_version": "1"}, {"key": "frames", "code_version": "1"}]},
        {"key": "example/face_detection", "id_columns": ["sample_uid"], "deps": [dep("example/crop")],
         "fields": [{"key": "faces", "code_version": "1",
                     "deps": [{"feature": "example/crop", "fields": ["frames"]}]}]},
        {"key": "example/stt", "id_columns": ["sample_uid"], "deps": [dep("example/video")],
         "fields": [{"key": "transcription", "code_version": "1",
                     "deps": [{"feature": "example/video", "fields": ["audio"]}]}]},
    ])
}

/// Video rows `(sample_uid, audio, frames)` with a `path` column.
pub fn video_rows(rows: &[(i64, &str, &str)]) -> RecordBatch {
    batch(Value::Array(
        rows.iter()
            .map(|(id, a, f)| {
                serde_json::json!({"sample_uid": id, "path": format!("v{id}.mp4"),
                    "metaxy_provenance_by_field": {"audio": a, "frames": f}})
            })
            .collect(),
    ))
}

/// A single-field root feature `test/items` keyed by `sample_uid`, with a `value` column.
pub fn items_graph() -> FeatureGraph {
    FeatureGraph::from_json(
        &serde_json::json!([{"key": "test/items", "id_columns": ["sample_uid"], "fields": ["default"]}]),
        Some(8),
    )
    .expect("valid graph")
}

/// Rows of `test/items`: `(sample_uid, value)`.
pub fn item_rows(rows: &[(i64, i64)]) -> RecordBatch {
    batch(Value::Array(
        rows.iter()
            .map(|(id, v)| {
                serde_json::json!({"sample_uid": id, "value": v,
                    "metaxy_provenance_by_field": {"default": format!("p{id}_{v}")}})
            })
            .collect(),
    ))
}

/// A timestamp column as microseconds since the epoch, in row order.
pub fn timestamps(b: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    use arrow_array::Array;
    let col = b
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column `{name}`"));
    let micros = arrow_cast::cast(
        col,
        &arrow_schema::DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, None),
    )
    .expect("a timestamp column");
    let ints = arrow_cast::cast(&micros, &arrow_schema::DataType::Int64)
        .expect("timestamps cast to integers");
    let ints = ints
        .as_any()
        .downcast_ref::<arrow_array::Int64Array>()
        .expect("Int64 array")
        .clone();
    (0..ints.len())
        .map(|i| ints.is_valid(i).then(|| ints.value(i)))
        .collect()
}

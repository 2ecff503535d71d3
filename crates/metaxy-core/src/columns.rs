//! Names of metaxy's system columns and helpers to derive the internal ones.
//!
//! Every feature table carries the ten system columns of [`ALL_SYSTEM_COLUMNS`] next to the
//! user's columns (reference section 3.1). Their names are part of the storage contract shared
//! with Python Metaxy.

/// Per-field provenance hashes: `Struct<field struct key: Utf8, ...>`.
pub const PROVENANCE_BY_FIELD: &str = "metaxy_provenance_by_field";
/// Sample hash of [`PROVENANCE_BY_FIELD`]: `Utf8`.
pub const PROVENANCE: &str = "metaxy_provenance";
/// Per-field data versions (default: the provenance; user-overridable): same type as provenance.
pub const DATA_VERSION_BY_FIELD: &str = "metaxy_data_version_by_field";
/// Sample hash of [`DATA_VERSION_BY_FIELD`]: `Utf8`.
pub const DATA_VERSION: &str = "metaxy_data_version";
/// The feature version the row was written under: `Utf8`.
pub const FEATURE_VERSION: &str = "metaxy_feature_version";
/// The project version the row was written under: `Utf8`.
pub const PROJECT_VERSION: &str = "metaxy_project_version";
/// Creation time (kept across rewrites of the same row): `Timestamp(µs, UTC)`.
pub const CREATED_AT: &str = "metaxy_created_at";
/// Write time, the ordering key for "latest row wins": `Timestamp(µs, UTC)`.
pub const UPDATED_AT: &str = "metaxy_updated_at";
/// Soft-delete tombstone time, null for live rows: `Timestamp(µs, UTC)`.
pub const DELETED_AT: &str = "metaxy_deleted_at";
/// Orchestration run id of the write, nullable: `Utf8`.
pub const MATERIALIZATION_ID: &str = "metaxy_materialization_id";

/// The increment annotation column on `stale` rows: the struct keys of the feature's fields
/// whose provenance changed (`List<Utf8>`). Not stored: `write` drops it.
pub const STALE_FIELDS: &str = "metaxy_stale_fields";

/// The ten system columns of every feature table.
pub const ALL_SYSTEM_COLUMNS: [&str; 10] = [
    PROVENANCE_BY_FIELD,
    PROVENANCE,
    DATA_VERSION_BY_FIELD,
    DATA_VERSION,
    FEATURE_VERSION,
    PROJECT_VERSION,
    CREATED_AT,
    UPDATED_AT,
    DELETED_AT,
    MATERIALIZATION_ID,
];

/// The four sample-level versioning columns.
pub const VERSIONING_COLUMNS: [&str; 4] = [
    PROVENANCE_BY_FIELD,
    PROVENANCE,
    DATA_VERSION_BY_FIELD,
    DATA_VERSION,
];

/// Columns dropped from an upstream frame before it is joined (lifecycle and definition-level
/// columns; they mean nothing downstream).
pub const UPSTREAM_DROPPED_COLUMNS: [&str; 6] = [
    FEATURE_VERSION,
    PROJECT_VERSION,
    CREATED_AT,
    UPDATED_AT,
    MATERIALIZATION_ID,
    DELETED_AT,
];

/// System columns a resolve does not read from an upstream that selects nothing: the engine
/// drops them before the join, and the read's deduplication adds back the ones it needs
/// (`metaxy_updated_at`, `metaxy_deleted_at`; `metaxy_provenance` only to break a tie of
/// timestamps, in a second scan) without copying them into the rows it keeps.
pub const UPSTREAM_UNREAD_COLUMNS: [&str; 10] = [
    FEATURE_VERSION,
    PROJECT_VERSION,
    CREATED_AT,
    UPDATED_AT,
    MATERIALIZATION_ID,
    DELETED_AT,
    PROVENANCE_BY_FIELD,
    PROVENANCE,
    DATA_VERSION,
    STALE_FIELDS,
];

/// True for one of the ten reserved system column names.
pub fn is_system_column(name: &str) -> bool {
    ALL_SYSTEM_COLUMNS.contains(&name)
}

/// The name of an upstream's versioning column after the join rename, e.g.
/// `metaxy_data_version_by_field__video_raw`.
pub fn upstream_column(column: &str, suffix: &str) -> String {
    format!("{column}__{suffix}")
}

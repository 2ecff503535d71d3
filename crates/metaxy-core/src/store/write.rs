//! `write`: validation and system columns (reference 4.3 and 2.14).

use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, RecordBatch, StringArray, StructArray, TimestampMicrosecondArray,
    new_null_array,
};
use arrow_schema::{DataType, Field, Fields, TimeUnit};

use super::clock::transaction_timestamp;
use super::{MetadataStore, WriteOptions};
use crate::batches;
use crate::columns::*;
use crate::engine::{HashSettings, hashing, sample_hash};
use crate::error::{Error, Result};
use crate::graph::FeatureGraph;
use crate::key::IntoFeatureKey;
use crate::keys::{self, Grouping};
use crate::spec::FeatureSpec;

/// Who is writing, which decides how the lifecycle columns are stamped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WriteKind {
    /// A caller's write: `updated_at` and the materialization id are stamped now; ids must be
    /// unique within the write.
    User,
    /// A soft delete: the rows keep their timestamps and get `deleted_at = now`.
    Tombstone,
    /// A copy between stores: rows keep their timestamps, tombstones and run ids (history rows
    /// may repeat ids).
    Copy,
}

impl MetadataStore {
    /// Appends metadata rows of a feature (requires write mode).
    ///
    /// The frame needs the feature's id columns (non-null, unique within the write) and
    /// `metaxy_provenance_by_field` (a struct with a string for every field of the feature).
    /// Missing system columns are filled in as Metaxy does: the sample hash, data versions
    /// (defaulting to the provenance, row by row), feature and project versions, timestamps
    /// and the materialization id. Returns the number of rows written.
    pub async fn write(&self, key: impl IntoFeatureKey, batch: RecordBatch) -> Result<u64> {
        self.write_with(key, batch, WriteOptions::default()).await
    }

    /// [`write`](Self::write) with options.
    pub async fn write_with(
        &self,
        key: impl IntoFeatureKey,
        batch: RecordBatch,
        options: WriteOptions,
    ) -> Result<u64> {
        self.require_write()?;
        let key = key.into_feature_key()?;
        if key.is_system() {
            let n = batch.num_rows() as u64;
            self.backend().append(&key, batch, true).await?;
            return Ok(n);
        }
        let graph = self.graph();
        let spec = graph.spec(&key)?;
        let prepared = self.prepare_write(
            &graph,
            spec,
            batch,
            &options,
            transaction_timestamp(),
            WriteKind::User,
        )?;
        let n = prepared.num_rows() as u64;
        self.backend()
            .append(&key, prepared, self.settings().auto_create_tables)
            .await?;
        Ok(n)
    }

    /// Validates a frame and adds the system columns.
    pub(super) fn prepare_write(
        &self,
        graph: &FeatureGraph,
        spec: &FeatureSpec,
        batch: RecordBatch,
        options: &WriteOptions,
        ts: i64,
        kind: WriteKind,
    ) -> Result<RecordBatch> {
        let feature = spec.key.to_string();
        let n = batch.num_rows();
        let mut b = batches::without_columns(&batch, &[STALE_FIELDS]);
        check_ids(&b, spec, kind)?;

        let pbf = b.column_by_name(PROVENANCE_BY_FIELD).ok_or_else(|| {
            Error::schema(
                &feature,
                format!(
                    "the frame has no `{PROVENANCE_BY_FIELD}` column; add a struct with one string per \
                     field ({}), e.g. a content hash of each field's source",
                    spec.sorted_struct_keys().join(", ")
                ),
            )
        })?;
        // Rows copied or tombstoned may belong to older feature versions with other fields.
        let strict = kind == WriteKind::User;
        let pbf = normalize_by_field(pbf, spec, PROVENANCE_BY_FIELD, strict)?;
        b = batches::with_column(&b, PROVENANCE_BY_FIELD, pbf.clone())?;

        // a. feature and project versions
        let keep_versions = options.preserve_feature_version
            && b.column_by_name(FEATURE_VERSION).is_some()
            && b.column_by_name(PROJECT_VERSION).is_some();
        if keep_versions {
            for c in [FEATURE_VERSION, PROJECT_VERSION] {
                let col = cast_column(&b, c, &DataType::Utf8)?;
                b = batches::with_column(&b, c, col)?;
            }
        } else {
            let fv = graph.feature_version(&spec.key)?;
            b = batches::with_column(&b, FEATURE_VERSION, constant_string(Some(fv), n))?;
            let pv = graph.project_version();
            b = batches::with_column(&b, PROJECT_VERSION, constant_string(Some(&pv), n))?;
        }
        let hash = self.hash_settings();
        let sorted = spec.sorted_struct_keys();
        let pbf_struct = hashing::as_struct(&pbf, PROVENANCE_BY_FIELD, &feature)?.clone();

        // b. the sample hash, unless given (kept as given, as in Metaxy)
        let prov: ArrayRef = match b.column_by_name(PROVENANCE) {
            Some(_) => cast_column(&b, PROVENANCE, &DataType::Utf8)?,
            None => Arc::new(sample_hash(
                &pbf_struct,
                &sorted,
                PROVENANCE_BY_FIELD,
                &feature,
                hash.algorithm,
                hash.truncation,
            )?),
        };
        b = batches::with_column(&b, PROVENANCE, prov.clone())?;

        // c-e. timestamps
        let ts_type = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let now = constant_timestamp(Some(ts), n);
        let created = match b.column_by_name(CREATED_AT) {
            Some(_) => cast_column(&b, CREATED_AT, &ts_type)?,
            None => now.clone(),
        };
        b = batches::with_column(&b, CREATED_AT, created)?;
        let updated = match (kind, b.column_by_name(UPDATED_AT)) {
            (WriteKind::Tombstone | WriteKind::Copy, Some(_)) => {
                cast_column(&b, UPDATED_AT, &ts_type)?
            }
            _ => now.clone(),
        };
        b = batches::with_column(&b, UPDATED_AT, updated)?;
        let deleted = match (kind, b.column_by_name(DELETED_AT)) {
            (WriteKind::Tombstone, _) => now,
            (WriteKind::User | WriteKind::Copy, Some(_)) => cast_column(&b, DELETED_AT, &ts_type)?,
            (WriteKind::User | WriteKind::Copy, None) => constant_timestamp(None, n),
        };
        b = batches::with_column(&b, DELETED_AT, deleted)?;

        // f. materialization id: always the write's or the store's (NULL if neither)
        let mid = options
            .materialization_id
            .as_deref()
            .or(self.settings().materialization_id.as_deref());
        let mid_column = match (kind, b.column_by_name(MATERIALIZATION_ID)) {
            (WriteKind::Copy, Some(_)) => cast_column(&b, MATERIALIZATION_ID, &DataType::Utf8)?,
            _ => constant_string(mid, n),
        };
        b = batches::with_column(&b, MATERIALIZATION_ID, mid_column)?;

        // g. data versions, row by row
        b = fill_data_versions(b, spec, &pbf, &prov, hash, strict)?;
        Ok(b)
    }
}

fn check_ids(b: &RecordBatch, spec: &FeatureSpec, kind: WriteKind) -> Result<()> {
    let feature = spec.key.to_string();
    for c in &spec.id_columns {
        let col = b.column_by_name(c).ok_or_else(|| {
            Error::schema(
                &feature,
                format!(
                    "the frame has no id column `{c}`; every row needs the id columns {}",
                    spec.id_columns.join(", ")
                ),
            )
        })?;
        if col.null_count() > 0 {
            let first = (0..col.len()).find(|i| col.is_null(*i)).unwrap_or(0);
            return Err(Error::schema(
                &feature,
                format!(
                    "id column `{c}` has {} null value(s) (first at row {first}); every sample needs an id",
                    col.null_count()
                ),
            ));
        }
    }
    if kind == WriteKind::User && b.num_rows() > 1 {
        let arrays = keys::key_arrays(b, &spec.id_columns, "the frame")?;
        let enc = keys::encode(&arrays)?;
        let g = Grouping::new(&enc);
        if g.num_groups() < b.num_rows() {
            let dup = g
                .group_of_row
                .iter()
                .enumerate()
                .find(|(row, grp)| g.first_row[**grp as usize] as usize != *row)
                .map(|(row, _)| row)
                .unwrap_or(0);
            let value: Vec<String> = arrays
                .iter()
                .map(|a| arrow_cast::display::array_value_to_string(a, dup).unwrap_or_default())
                .collect();
            return Err(Error::schema(
                &feature,
                format!(
                    "{} rows share an id with an earlier row (first: {} = ({}) at row {dup}); a write \
                     may hold each sample once — aggregate or deduplicate the rows first",
                    b.num_rows() - g.num_groups(),
                    spec.id_columns.join(", "),
                    value.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Checks a `*_by_field` column and normalises its children to `Utf8`: a struct with a
/// non-null string for every declared field (extra entries are kept).
pub(crate) fn normalize_by_field(
    array: &ArrayRef,
    spec: &FeatureSpec,
    column: &str,
    require_all: bool,
) -> Result<ArrayRef> {
    let feature = spec.key.to_string();
    let s = hashing::as_struct(array, column, &feature)?;
    let declared = spec.sorted_struct_keys();
    let present = hashing::struct_names(s);
    let missing: Vec<&String> = declared.iter().filter(|k| !present.contains(k)).collect();
    if require_all && !missing.is_empty() {
        return Err(Error::schema(
            &feature,
            format!(
                "`{column}` has no entry for field(s) {}; it needs one string per declared field ({}), \
                 got {}",
                missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                declared.join(", "),
                if present.is_empty() {
                    "none".to_string()
                } else {
                    present.join(", ")
                }
            ),
        ));
    }
    if require_all && s.null_count() > 0 {
        let row = (0..s.len()).find(|i| s.is_null(*i)).unwrap_or(0);
        return Err(Error::schema(
            &feature,
            format!("`{column}` is null at row {row}; every row needs a value per field"),
        ));
    }
    let mut fields = Vec::with_capacity(present.len());
    let mut children = Vec::with_capacity(present.len());
    for (f, child) in s.fields().iter().zip(s.columns()) {
        let child = if child.data_type() == &DataType::Utf8 {
            child.clone()
        } else {
            arrow_cast::cast(child, &DataType::Utf8).map_err(|e| {
                Error::schema(
                    &feature,
                    format!("`{column}.{}` cannot be read as text: {e}", f.name()),
                )
            })?
        };
        if require_all && declared.contains(f.name()) && child.null_count() > 0 {
            let row = (0..child.len()).find(|i| child.is_null(*i)).unwrap_or(0);
            return Err(Error::schema(
                &feature,
                format!(
                    "`{column}.{}` is null at row {row}; every declared field needs a version string",
                    f.name()
                ),
            ));
        }
        fields.push(Field::new(f.name(), DataType::Utf8, true));
        children.push(child);
    }
    Ok(Arc::new(StructArray::try_new(
        Fields::from(fields),
        children,
        s.nulls().cloned(),
    )?))
}

/// Data-version filling (reference 2.14): missing → copy of the provenance; present → rows
/// where it is NULL take the provenance; the sample hash follows.
fn fill_data_versions(
    b: RecordBatch,
    spec: &FeatureSpec,
    pbf: &ArrayRef,
    prov: &ArrayRef,
    hash: HashSettings,
    strict: bool,
) -> Result<RecordBatch> {
    let feature = spec.key.to_string();
    let Some(dvbf) = b.column_by_name(DATA_VERSION_BY_FIELD).cloned() else {
        let b = batches::with_column(&b, DATA_VERSION_BY_FIELD, pbf.clone())?;
        return batches::with_column(&b, DATA_VERSION, prov.clone());
    };
    if dvbf.data_type() == &DataType::Null {
        let b = batches::with_column(&b, DATA_VERSION_BY_FIELD, pbf.clone())?;
        return batches::with_column(&b, DATA_VERSION, prov.clone());
    }
    let dvbf = normalize_by_field(&dvbf, spec, DATA_VERSION_BY_FIELD, false)?;
    // bring both structs to one type, then take the provenance where the data version is NULL
    let merged = batches::merge_fields(
        [pbf.data_type(), dvbf.data_type()]
            .iter()
            .filter_map(|t| match t {
                DataType::Struct(f) => Some(f.iter()),
                _ => None,
            })
            .flatten(),
    )?;
    let target = DataType::Struct(merged);
    let pbf_aligned = batches::align_array(pbf, &target)?;
    let dvbf_aligned = batches::align_array(&dvbf, &target)?;
    let missing_rows = arrow_arith::boolean::is_null(&dvbf_aligned)?;
    let filled = if missing_rows.true_count() > 0 {
        arrow_select::zip::zip(&missing_rows, &pbf_aligned, &dvbf_aligned)?
    } else {
        dvbf_aligned
    };
    let filled = normalize_by_field(&filled, spec, DATA_VERSION_BY_FIELD, strict)?;
    let b = batches::with_column(&b, DATA_VERSION_BY_FIELD, filled.clone())?;
    let dv: ArrayRef = match b.column_by_name(DATA_VERSION) {
        None => {
            let s = hashing::as_struct(&filled, DATA_VERSION_BY_FIELD, &feature)?;
            Arc::new(sample_hash(
                s,
                &spec.sorted_struct_keys(),
                DATA_VERSION_BY_FIELD,
                &feature,
                hash.algorithm,
                hash.truncation,
            )?)
        }
        Some(_) => {
            let given = cast_column(&b, DATA_VERSION, &DataType::Utf8)?;
            let missing = arrow_arith::boolean::is_null(&given)?;
            if missing.true_count() > 0 {
                arrow_select::zip::zip(&missing, prov, &given)?
            } else {
                given
            }
        }
    };
    batches::with_column(&b, DATA_VERSION, dv)
}

fn cast_column(b: &RecordBatch, name: &str, to: &DataType) -> Result<ArrayRef> {
    let col = b
        .column_by_name(name)
        .ok_or_else(|| Error::InvalidArgument(format!("missing column `{name}`")))?;
    if col.data_type() == to {
        return Ok(col.clone());
    }
    if col.data_type() == &DataType::Null {
        return Ok(new_null_array(to, col.len()));
    }
    arrow_cast::cast(col, to)
        .map_err(|e| Error::InvalidArgument(format!("column `{name}` must be {to}: {e}")))
}

fn constant_string(value: Option<&str>, n: usize) -> ArrayRef {
    match value {
        Some(v) => Arc::new(StringArray::from_iter_values(std::iter::repeat_n(v, n))),
        None => new_null_array(&DataType::Utf8, n),
    }
}

fn constant_timestamp(value: Option<i64>, n: usize) -> ArrayRef {
    let arr = match value {
        Some(v) => TimestampMicrosecondArray::from(vec![v; n]),
        None => TimestampMicrosecondArray::new_null(n),
    };
    Arc::new(arr.with_timezone("UTC"))
}

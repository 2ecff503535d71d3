//! Compiling a resolve to one SQL query, and splitting its rows into the expected and the
//! stored side of the increment.
//!
//! The query mirrors the core engine step by step:
//!
//! 1. per dependency, the latest live row of every upstream sample under the upstream's
//!    current feature version (`row_number()` over the ids, ordered like the core's
//!    keep-latest), the read filters, the dependency's renames, filters and select;
//! 2. the required dependencies inner-joined, the optional ones left-joined, on the join
//!    columns;
//! 3. per field, the hash of `field|code_version|parent|value|...` (a NULL value of a required
//!    parent makes it NULL, a missing optional parent contributes the empty string), and the
//!    sample hash over the fields in sorted order, truncated as configured;
//! 4. the latest live stored rows of the feature, full-outer-joined with the expected rows on
//!    the join columns, keeping only rows that are new, orphaned or whose provenance differs.
//!
//! Everything a value could change is a bound parameter; identifiers are quoted.

use std::collections::HashSet;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::SqlPushdown;
use crate::batches;
use crate::columns::{
    self, DATA_VERSION_BY_FIELD, DELETED_AT, FEATURE_VERSION, PROVENANCE, STALE_FIELDS, UPDATED_AT,
};
use crate::engine::hashing::build_struct;
use crate::engine::upstream::dvbf_column;
use crate::engine::{HashSettings, versioning_columns};
use crate::error::{Error, Result};
use crate::filter::{Expr, Scalar};
use crate::graph::{FeatureGraph, FeaturePlan, PlanDep};
use crate::spec::{FeatureSpec, Lineage};

/// What the store knows about a resolve when it asks for a pushdown.
pub struct ResolveInputs<'a> {
    /// The graph the resolve runs under (feature versions come from it).
    pub graph: &'a FeatureGraph,
    /// The feature being resolved.
    pub spec: &'a FeatureSpec,
    /// Its plan.
    pub plan: &'a FeaturePlan,
    /// Hash algorithm and truncation.
    pub hash: HashSettings,
    /// Per dependency (declaration order): the read filters of that upstream.
    pub upstream_filters: Vec<Vec<Expr>>,
    /// Per dependency: the upstream table's schema in this store.
    pub upstream_schemas: Vec<SchemaRef>,
    /// Filters on the stored rows of the feature.
    pub target_filters: Vec<Expr>,
    /// The feature's table schema in this store (`None`: no table yet, every sample is new).
    pub current_schema: Option<SchemaRef>,
    /// The stored columns the comparison reads.
    pub current_columns: Vec<String>,
}

/// A resolve compiled to SQL, and how to read its rows back.
#[derive(Debug)]
pub struct CompiledResolve {
    /// The query.
    pub sql: String,
    /// Its parameters, in placeholder order.
    pub params: Vec<Scalar>,
    /// The types of the result columns (`e0..`, then `c0..`).
    pub schema: SchemaRef,
    /// Names of the expected-side columns (before the hashes): join, then user columns.
    expected_names: Vec<String>,
    /// Struct keys of the feature's fields, in declaration order (one hash column each).
    field_keys: Vec<String>,
    /// Names of the stored-side columns (`None`: the feature has no table).
    current_names: Option<Vec<String>>,
}

/// The system columns that never reach the expected frame from an upstream.
fn dropped_upstream_column(name: &str) -> bool {
    (columns::is_system_column(name) && name != DATA_VERSION_BY_FIELD) || name == STALE_FIELDS
}

struct DepFrame {
    /// `(source column in the table, name in the frame)`, in frame order.
    columns: Vec<(String, String)>,
    /// Every table column that reaches the renamed layer, `(source, renamed)`.
    renamed: Vec<(String, String)>,
}

/// The columns of one upstream frame after renames and select, as the core's
/// `upstream::prepare` produces them; `None` when the SQL cannot reproduce the frame exactly
/// (the core then runs and reports whatever is wrong).
fn dep_frame(dep: &PlanDep, schema: &SchemaRef) -> Option<DepFrame> {
    let d = &dep.dep;
    let dv_col = dvbf_column(dep);
    schema.column_with_name(DATA_VERSION_BY_FIELD)?;
    let rename_of = |c: &str| -> String {
        if c == DATA_VERSION_BY_FIELD {
            return dv_col.clone();
        }
        d.rename
            .iter()
            .flatten()
            .find(|(old, _)| old == c)
            .map(|(_, new)| new.clone())
            .unwrap_or_else(|| c.to_string())
    };
    for (old, _) in d.rename.iter().flatten() {
        if schema.column_with_name(old).is_none() || dropped_upstream_column(old) {
            return None;
        }
    }
    let renamed: Vec<(String, String)> = schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .filter(|c| !dropped_upstream_column(c))
        .map(|c| (c.to_string(), rename_of(c)))
        .collect();
    let mut seen = HashSet::new();
    if !renamed.iter().all(|(_, n)| seen.insert(n.clone())) {
        return None;
    }
    let columns = match &d.select {
        None => renamed.clone(),
        Some(select) => {
            // 1:1 only (see `has_sql_form`): the renamed upstream ids are kept
            let mut keep: Vec<String> = select.clone();
            for c in &dep.renamed_id_columns {
                if !keep.contains(c) {
                    keep.push(c.clone());
                }
            }
            keep.push(dv_col.clone());
            let mut out = Vec::with_capacity(keep.len());
            let mut seen = HashSet::new();
            for k in keep {
                if !seen.insert(k.clone()) {
                    return None;
                }
                let pair = renamed.iter().find(|(_, n)| *n == k)?;
                out.push(pair.clone());
            }
            out
        }
    };
    Some(DepFrame { columns, renamed })
}

/// SQL text under construction, with its parameters.
struct Sql<'d> {
    d: &'d dyn SqlPushdown,
    text: String,
    params: Vec<Scalar>,
}

impl Sql<'_> {
    fn q(&self, ident: &str) -> String {
        self.d.quote(ident)
    }

    fn qualified(&self, alias: &str, column: &str) -> String {
        format!("{}.{}", self.q(alias), self.q(column))
    }

    fn filters(&mut self, filters: &[Expr], schema: &Schema) -> Option<Vec<String>> {
        filters
            .iter()
            .map(|f| {
                let rendered = self.d.filter(f, schema, &mut self.params)?;
                Some(format!("({rendered})"))
            })
            .collect()
    }

    /// `SELECT <columns> FROM (latest live rows of table) WHERE <filters>`.
    fn latest_live(
        &mut self,
        table: &str,
        version: &str,
        ids: &[String],
        columns: &[String],
        filters: &[Expr],
        schema: &Schema,
    ) -> Option<String> {
        let rn = self.q("__metaxy_rn");
        let mut inner: Vec<String> = columns.iter().map(|c| self.q(c)).collect();
        for c in [UPDATED_AT, DELETED_AT, PROVENANCE]
            .into_iter()
            .map(str::to_string)
            .chain(filters.iter().flat_map(|f| f.columns()))
        {
            let quoted = self.q(&c);
            if !inner.contains(&quoted) {
                inner.push(quoted);
            }
        }
        let partition: Vec<String> = ids.iter().map(|c| self.q(c)).collect();
        let (upd, del, prov) = (self.q(UPDATED_AT), self.q(DELETED_AT), self.q(PROVENANCE));
        let version = self.d.text_param(version, &mut self.params);
        let order = format!(
            "coalesce({del}, {upd}) DESC NULLS LAST, ({del} IS NOT NULL) DESC, {}",
            self.d.text_desc(&prov)
        );
        let mut conditions = vec![format!("{rn} = 1"), format!("{del} IS NULL")];
        conditions.extend(self.filters(filters, schema)?);
        let outer: Vec<String> = columns.iter().map(|c| self.q(c)).collect();
        Some(format!(
            "SELECT {} FROM (SELECT {}, row_number() OVER (PARTITION BY {} ORDER BY {order}) AS {rn} \
             FROM {table} WHERE {} = {version}) AS {} WHERE {}",
            outer.join(", "),
            inner.join(", "),
            partition.join(", "),
            self.q(FEATURE_VERSION),
            self.q("__metaxy_latest"),
            conditions.join(" AND "),
        ))
    }
}

fn has_all<'a>(schema: &SchemaRef, mut columns: impl Iterator<Item = &'a str>) -> bool {
    columns.all(|c| schema.column_with_name(c).is_some())
}

fn push_unique(list: &mut Vec<String>, c: String) {
    if !list.contains(&c) {
        list.push(c);
    }
}

/// Whether the plan's shape has an SQL form at all (checked before any table is looked at):
/// 1:1 dependencies, at least one of them required, and stored rows compared on their id
/// columns (deduplicated on the ids and matched on the join columns, the SQL pairs them one to
/// one only when the two are the same set).
pub fn has_sql_form(spec: &FeatureSpec, plan: &FeaturePlan) -> bool {
    let same_set =
        |a: &[String], b: &[String]| a.len() == b.len() && a.iter().all(|c| b.contains(c));
    !plan.deps.is_empty()
        && plan.deps.iter().all(|p| p.dep.lineage == Lineage::Identity)
        && plan.deps.iter().any(|p| !p.dep.optional)
        && same_set(&plan.join_columns, &spec.id_columns)
}

/// Compiles the resolve, or returns `None` when its shape is outside what the SQL reproduces
/// exactly (the store then runs the core engine).
pub fn compile(d: &dyn SqlPushdown, inputs: &ResolveInputs<'_>) -> Result<Option<CompiledResolve>> {
    let spec = inputs.spec;
    let plan = inputs.plan;
    if !has_sql_form(spec, plan)
        || inputs.upstream_schemas.len() != plan.deps.len()
        || inputs.upstream_filters.len() != plan.deps.len()
    {
        return Ok(None);
    }
    // every parent field must exist in its upstream's data-version struct
    for parents in &plan.field_parents {
        for p in parents {
            let dvbf = inputs.upstream_schemas[p.dep_index].column_with_name(DATA_VERSION_BY_FIELD);
            let has = match dvbf.map(|(_, f)| f.data_type()) {
                Some(DataType::Struct(children)) => children
                    .iter()
                    .any(|c| c.name() == &p.struct_key && c.data_type() == &DataType::Utf8),
                _ => false,
            };
            if !has {
                return Ok(None);
            }
        }
    }
    let required_system = [
        UPDATED_AT,
        DELETED_AT,
        PROVENANCE,
        FEATURE_VERSION,
        DATA_VERSION_BY_FIELD,
    ];
    if let Some(current_schema) = &inputs.current_schema
        && !has_all(
            current_schema,
            inputs
                .current_columns
                .iter()
                .map(String::as_str)
                .chain(required_system)
                .chain(spec.id_columns.iter().map(String::as_str)),
        )
    {
        return Ok(None);
    }
    let mut sql = Sql {
        d,
        text: String::from("WITH "),
        params: Vec::new(),
    };
    let mut frames = Vec::with_capacity(plan.deps.len());
    let mut ctes: Vec<String> = Vec::new();
    for (i, (dep, schema)) in plan.deps.iter().zip(&inputs.upstream_schemas).enumerate() {
        let Some(frame) = dep_frame(dep, schema) else {
            return Ok(None);
        };
        if !has_all(
            schema,
            required_system
                .into_iter()
                .chain(dep.upstream_id_columns.iter().map(String::as_str)),
        ) {
            return Ok(None);
        }
        if !plan
            .join_columns
            .iter()
            .all(|c| frame.columns.iter().any(|(_, n)| n == c))
        {
            return Ok(None);
        }
        // read filters name table columns; dependency filters name renamed columns
        let read_filters = &inputs.upstream_filters[i];
        if !read_filters
            .iter()
            .flat_map(|f| f.columns())
            .all(|c| schema.column_with_name(&c).is_some())
        {
            return Ok(None);
        }
        let dep_filter = match &dep.dep.filters {
            Some(f) => Expr::parse_all(f)?,
            None => None,
        };
        if let Some(f) = &dep_filter
            && !f
                .columns()
                .iter()
                .all(|c| frame.renamed.iter().any(|(_, n)| n == c))
        {
            return Ok(None);
        }
        // the renamed layer carries the frame's columns and what the dependency filter reads
        let mut layer: Vec<(String, String)> = frame.columns.clone();
        for c in dep_filter.iter().flat_map(|f| f.columns()) {
            if !layer.iter().any(|(_, n)| *n == c)
                && let Some(pair) = frame.renamed.iter().find(|(_, n)| *n == c)
            {
                layer.push(pair.clone());
            }
        }
        let mut sources: Vec<String> = Vec::new();
        for (s, _) in &layer {
            push_unique(&mut sources, s.clone());
        }
        let version = inputs.graph.feature_version(&dep.dep.feature)?.to_string();
        let table = d.table(&dep.dep.feature);
        let Some(latest) = sql.latest_live(
            &table,
            &version,
            &dep.upstream_id_columns,
            &sources,
            read_filters,
            schema,
        ) else {
            return Ok(None);
        };
        let projection: Vec<String> = layer
            .iter()
            .map(|(s, n)| format!("{} AS {}", sql.q(s), sql.q(n)))
            .collect();
        let frame_cols: Vec<String> = frame.columns.iter().map(|(_, n)| sql.q(n)).collect();
        let renamed_schema = Schema::new(
            frame
                .renamed
                .iter()
                .map(|(s, n)| {
                    Ok(Field::new(
                        n,
                        schema.field_with_name(s)?.data_type().clone(),
                        true,
                    ))
                })
                .collect::<Result<Vec<_>>>()?,
        );
        let where_dep = match &dep_filter {
            Some(f) => match sql.filters(std::slice::from_ref(f), &renamed_schema) {
                Some(mut r) => format!(" WHERE {}", r.remove(0)),
                None => return Ok(None),
            },
            None => String::new(),
        };
        ctes.push(format!(
            "{} AS (SELECT {} FROM (SELECT {} FROM ({latest}) AS {}) AS {}{where_dep})",
            sql.q(&format!("u{i}")),
            frame_cols.join(", "),
            projection.join(", "),
            sql.q("__metaxy_l"),
            sql.q("__metaxy_r"),
        ));
        frames.push(frame);
    }

    // the expected frame's plain columns: join columns, then each frame's other columns
    let first_required = plan.deps.iter().position(|p| !p.dep.optional).unwrap_or(0);
    let mut expected_names: Vec<String> = plan.join_columns.clone();
    let mut expected_sql: Vec<String> = plan
        .join_columns
        .iter()
        .map(|c| sql.qualified(&format!("u{first_required}"), c))
        .collect();
    let mut expected_fields: Vec<Field> = Vec::new();
    for c in &plan.join_columns {
        let (source, _) = frames[first_required]
            .columns
            .iter()
            .find(|(_, n)| n == c)
            .ok_or_else(|| Error::InvalidArgument(format!("join column `{c}` missing")))?;
        let t = inputs.upstream_schemas[first_required]
            .field_with_name(source)?
            .data_type()
            .clone();
        expected_fields.push(Field::new(c, t, true));
    }
    for (i, (frame, dep)) in frames.iter().zip(&plan.deps).enumerate() {
        let dv_col = dvbf_column(dep);
        for (source, name) in &frame.columns {
            if plan.join_columns.contains(name) || *name == dv_col {
                continue;
            }
            if expected_names.contains(name) || name.starts_with("__metaxy_") {
                // a collision: the core reports it
                return Ok(None);
            }
            let t = inputs.upstream_schemas[i]
                .field_with_name(source)?
                .data_type()
                .clone();
            expected_fields.push(Field::new(name, t, true));
            expected_sql.push(sql.qualified(&format!("u{i}"), name));
            expected_names.push(name.clone());
        }
    }

    // per-field hashes
    let trunc = |s: String| match inputs.hash.truncation {
        Some(n) => format!("left({s}, {n})"),
        None => s,
    };
    let mut field_keys = Vec::with_capacity(spec.fields.len());
    for (f, (field, parents)) in spec.fields.iter().zip(&plan.field_parents).enumerate() {
        let mut pieces: Vec<String> = Vec::new();
        let mut constant = format!("{}|{}", field.key, field.code_version);
        for p in parents {
            let dep = &plan.deps[p.dep_index];
            constant.push_str(&format!("|{}|", p.fq_string));
            pieces.push(d.text_param(&constant, &mut sql.params));
            constant.clear();
            let column = sql.qualified(&format!("u{}", p.dep_index), &dvbf_column(dep));
            let value = d.struct_field(&column, &p.struct_key, &mut sql.params);
            pieces.push(if dep.dep.optional {
                format!("coalesce({value}, '')")
            } else {
                value
            });
        }
        if !constant.is_empty() {
            pieces.push(d.text_param(&constant, &mut sql.params));
        }
        let hash = trunc(d.hash(inputs.hash.algorithm, &pieces.join(" || ")));
        expected_sql.push(format!("{hash} AS {}", sql.q(&format!("__metaxy_h{f}"))));
        field_keys.push(field.key.to_struct_key());
    }
    let mut from = format!(
        "{} AS {}",
        sql.q(&format!("u{first_required}")),
        sql.q(&format!("u{first_required}"))
    );
    for (i, dep) in plan.deps.iter().enumerate() {
        if i == first_required {
            continue;
        }
        let on: Vec<String> = plan
            .join_columns
            .iter()
            .map(|c| {
                format!(
                    "{} = {}",
                    sql.qualified(&format!("u{first_required}"), c),
                    sql.qualified(&format!("u{i}"), c)
                )
            })
            .collect();
        from.push_str(&format!(
            " {} {} AS {} ON {}",
            if dep.dep.optional {
                "LEFT JOIN"
            } else {
                "JOIN"
            },
            sql.q(&format!("u{i}")),
            sql.q(&format!("u{i}")),
            on.join(" AND ")
        ));
    }
    ctes.push(format!(
        "{} AS (SELECT {} FROM {from})",
        sql.q("__metaxy_e"),
        expected_sql.join(", ")
    ));
    // the sample hash over the fields in sorted struct-key order
    let mut sorted: Vec<(usize, &String)> = field_keys.iter().enumerate().collect();
    sorted.sort_by(|a, b| a.1.cmp(b.1));
    let joined = sorted
        .iter()
        .map(|(f, _)| sql.q(&format!("__metaxy_h{f}")))
        .collect::<Vec<_>>()
        .join(" || '|' || ");
    let prov = trunc(d.hash(inputs.hash.algorithm, &joined));
    ctes.push(format!(
        "{} AS (SELECT *, {prov} AS {} FROM {})",
        sql.q("__metaxy_x"),
        sql.q("__metaxy_prov"),
        sql.q("__metaxy_e")
    ));

    // the stored side
    let current_schema = match &inputs.current_schema {
        Some(current_schema) => {
            let version = inputs.graph.feature_version(&spec.key)?.to_string();
            let table = d.table(&spec.key);
            if !inputs
                .target_filters
                .iter()
                .flat_map(|f| f.columns())
                .all(|c| current_schema.column_with_name(&c).is_some())
            {
                return Ok(None);
            }
            let Some(current) = sql.latest_live(
                &table,
                &version,
                &spec.id_columns,
                &inputs.current_columns,
                &inputs.target_filters,
                current_schema,
            ) else {
                return Ok(None);
            };
            ctes.push(format!("{} AS ({current})", sql.q("__metaxy_c")));
            Some(current_schema)
        }
        None => None,
    };

    // the increment rows, both sides side by side
    let mut out: Vec<String> = Vec::new();
    let mut fields: Vec<Field> = Vec::new();
    let x = |c: &str| sql.qualified("__metaxy_x", c);
    for (n, f) in expected_names.iter().zip(&expected_fields) {
        out.push(format!(
            "{} AS {}",
            d.output(&x(n), f.data_type()),
            sql.q(&format!("e{}", out.len()))
        ));
        fields.push(Field::new(
            format!("e{}", fields.len()),
            f.data_type().clone(),
            true,
        ));
    }
    for f in 0..field_keys.len() {
        out.push(format!(
            "{} AS {}",
            x(&format!("__metaxy_h{f}")),
            sql.q(&format!("e{}", out.len()))
        ));
        fields.push(Field::new(
            format!("e{}", fields.len()),
            DataType::Utf8,
            true,
        ));
    }
    out.push(format!(
        "{} AS {}",
        x("__metaxy_prov"),
        sql.q(&format!("e{}", out.len()))
    ));
    fields.push(Field::new(
        format!("e{}", fields.len()),
        DataType::Utf8,
        true,
    ));
    let Some(current_schema) = current_schema else {
        // no stored rows: every expected sample is new
        let order: Vec<String> = plan.join_columns.iter().map(|c| x(c)).collect();
        sql.text.push_str(&ctes.join(", "));
        sql.text.push_str(&format!(
            " SELECT {} FROM {} ORDER BY {}",
            out.join(", "),
            sql.q("__metaxy_x"),
            order.join(", ")
        ));
        return Ok(Some(CompiledResolve {
            sql: sql.text,
            params: sql.params,
            schema: Arc::new(Schema::new(fields)),
            expected_names,
            field_keys,
            current_names: None,
        }));
    };
    for (j, c) in inputs.current_columns.iter().enumerate() {
        let t = current_schema.field_with_name(c)?.data_type().clone();
        out.push(format!(
            "{} AS {}",
            d.output(&sql.qualified("__metaxy_c", c), &t),
            sql.q(&format!("c{j}"))
        ));
        fields.push(Field::new(format!("c{j}"), t, true));
    }
    let on: Vec<String> = plan
        .join_columns
        .iter()
        .map(|c| format!("{} = {}", x(c), sql.qualified("__metaxy_c", c)))
        .collect();
    // a deterministic order: the samples by their ids (orphans, which have no expected side,
    // by their stored ids)
    let order: Vec<String> = plan
        .join_columns
        .iter()
        .map(|c| x(c))
        .chain(
            plan.join_columns
                .iter()
                .map(|c| sql.qualified("__metaxy_c", c)),
        )
        .collect();
    let e_key = x(&plan.join_columns[0]);
    let c_key = sql.qualified("__metaxy_c", &plan.join_columns[0]);
    let (e_prov, c_prov) = (x("__metaxy_prov"), sql.qualified("__metaxy_c", PROVENANCE));
    sql.text.push_str(&ctes.join(", "));
    sql.text.push_str(&format!(
        " SELECT {} FROM {} FULL OUTER JOIN {} ON {} WHERE {e_key} IS NULL OR {c_key} IS NULL \
         OR {c_prov} IS NULL OR ({e_prov} IS NOT NULL AND {e_prov} <> {c_prov}) ORDER BY {}",
        out.join(", "),
        sql.q("__metaxy_x"),
        sql.q("__metaxy_c"),
        on.join(" AND "),
        order.join(", "),
    ));
    Ok(Some(CompiledResolve {
        sql: sql.text,
        params: sql.params,
        schema: Arc::new(Schema::new(fields)),
        expected_names,
        field_keys,
        current_names: Some(inputs.current_columns.clone()),
    }))
}

impl CompiledResolve {
    /// Splits the query's rows into the expected frame (join, user and versioning columns, as
    /// the core engine builds it) and the stored rows (`None` when the feature has no table),
    /// both restricted to the increment.
    pub fn split(&self, rows: &RecordBatch) -> Result<(RecordBatch, Option<RecordBatch>)> {
        let n_plain = self.expected_names.len();
        let n_hash = self.field_keys.len();
        let column = |i: usize| -> Result<ArrayRef> {
            let want = self.schema.field(i).data_type();
            let got = rows.columns().get(i).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "the pushdown query returned {} columns, {} expected",
                    rows.num_columns(),
                    self.schema.fields().len()
                ))
            })?;
            batches::align_array(got, want)
        };
        let present = |i: usize| -> Result<BooleanArray> {
            Ok(arrow_arith::boolean::is_not_null(column(i)?.as_ref())?)
        };
        let e_rows = present(0)?;

        let mut columns: Vec<(String, ArrayRef)> = Vec::new();
        for (i, name) in self.expected_names.iter().enumerate() {
            let a = arrow_select::filter::filter(column(i)?.as_ref(), &e_rows)?;
            columns.push((name.clone(), a));
        }
        let mut children = Vec::with_capacity(n_hash);
        for (f, key) in self.field_keys.iter().enumerate() {
            let a = arrow_select::filter::filter(column(n_plain + f)?.as_ref(), &e_rows)?;
            children.push((key.clone(), a));
        }
        let by_field: ArrayRef = Arc::new(build_struct(children)?);
        let prov = arrow_select::filter::filter(column(n_plain + n_hash)?.as_ref(), &e_rows)?;
        if prov.as_string_opt::<i32>().is_none() {
            return Err(Error::InvalidArgument(
                "the pushed-down provenance is not a string column".into(),
            ));
        }
        for (name, a) in versioning_columns(by_field, prov) {
            columns.push((name.to_string(), a));
        }
        let expected = batch_of(columns, e_rows.true_count())?;

        let offset = n_plain + n_hash + 1;
        let Some(current_names) = &self.current_names else {
            return Ok((expected, None));
        };
        let c_rows = present(offset)?;
        let mut columns: Vec<(String, ArrayRef)> = Vec::new();
        for (j, name) in current_names.iter().enumerate() {
            let a = arrow_select::filter::filter(column(offset + j)?.as_ref(), &c_rows)?;
            columns.push((name.clone(), a));
        }
        let current = batch_of(columns, c_rows.true_count())?;
        Ok((expected, Some(current)))
    }
}

/// A batch of named columns with `rows` rows (also when there are no columns).
fn batch_of(columns: Vec<(String, ArrayRef)>, rows: usize) -> Result<RecordBatch> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(n, a.data_type().clone(), true))
        .collect();
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, a)| a).collect(),
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(rows)),
    )?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use arrow_schema::Fields;

    use super::*;
    use crate::columns::PROVENANCE_BY_FIELD;
    use crate::filter::SqlDialect;
    use crate::hash::HashAlgorithm;
    use crate::key::FeatureKey;

    /// Standard SQL with `?` parameters, for looking at the compiled text.
    struct Plain;

    #[async_trait::async_trait]
    impl SqlPushdown for Plain {
        fn quote(&self, ident: &str) -> String {
            SqlDialect::question().quote_ident(ident)
        }
        fn table(&self, key: &FeatureKey) -> String {
            self.quote(&key.table_name())
        }
        fn text_param(&self, value: &str, params: &mut Vec<Scalar>) -> String {
            params.push(Scalar::Str(value.into()));
            "?".into()
        }
        fn struct_field(&self, column: &str, key: &str, params: &mut Vec<Scalar>) -> String {
            format!("({column} ->> {})", self.text_param(key, params))
        }
        fn hash(&self, algorithm: HashAlgorithm, preimage: &str) -> String {
            format!("h_{}({preimage})", algorithm.as_str())
        }
        fn filter(&self, expr: &Expr, _: &Schema, params: &mut Vec<Scalar>) -> Option<String> {
            Some(expr.to_sql(&SqlDialect::question(), params))
        }
        async fn query(&self, _: &str, _: Vec<Scalar>, _: SchemaRef) -> Result<RecordBatch> {
            unreachable!("compile only")
        }
    }

    fn table(user: &[(&str, DataType)], fields: &[&str]) -> SchemaRef {
        let by_field = DataType::Struct(Fields::from(
            fields
                .iter()
                .map(|f| Field::new(*f, DataType::Utf8, true))
                .collect::<Vec<_>>(),
        ));
        let mut cols: Vec<Field> = user
            .iter()
            .map(|(n, t)| Field::new(*n, t.clone(), true))
            .collect();
        for c in columns::ALL_SYSTEM_COLUMNS {
            let t = match c {
                PROVENANCE_BY_FIELD | DATA_VERSION_BY_FIELD => by_field.clone(),
                UPDATED_AT | DELETED_AT | columns::CREATED_AT => {
                    DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, Some("UTC".into()))
                }
                _ => DataType::Utf8,
            };
            cols.push(Field::new(c, t, true));
        }
        Arc::new(Schema::new(cols))
    }

    fn graph(lineage: &str) -> FeatureGraph {
        FeatureGraph::from_json(
            &serde_json::json!([
                {"key": "v/raw", "id_columns": ["we\"ird id"], "fields": ["audio"]},
                {"key": "v/clip", "id_columns": ["we\"ird id"],
                 "deps": [{"feature": "v/raw", "lineage": serde_json::from_str::<serde_json::Value>(lineage).unwrap()}],
                 "fields": ["audio"]},
            ]),
            Some(8),
        )
        .unwrap()
    }

    fn compiled(g: &FeatureGraph, filter: Option<Expr>) -> Option<CompiledResolve> {
        let key = FeatureKey::new("v/clip").unwrap();
        let raw = table(
            &[("we\"ird id", DataType::Int64), ("size", DataType::Int64)],
            &["audio"],
        );
        let clip = table(&[("we\"ird id", DataType::Int64)], &["audio"]);
        let inputs = ResolveInputs {
            graph: g,
            spec: g.spec(&key).unwrap(),
            plan: g.plan(&key).unwrap(),
            hash: HashSettings {
                algorithm: HashAlgorithm::Md5,
                truncation: Some(8),
            },
            upstream_filters: vec![filter.into_iter().collect()],
            upstream_schemas: vec![raw],
            target_filters: Vec::new(),
            current_schema: Some(clip),
            current_columns: vec![
                "we\"ird id".into(),
                PROVENANCE_BY_FIELD.into(),
                PROVENANCE.into(),
                UPDATED_AT.into(),
            ],
        };
        compile(&Plain, &inputs).unwrap()
    }

    #[test]
    fn values_are_parameters_and_identifiers_are_quoted() {
        let g = graph(r#"{"relationship": {"type": "1:1"}}"#);
        let hostile =
            Expr::parse("size > 3 OR \"we\"\"ird id\" = 'x''); DROP TABLE t; --'").unwrap();
        let c = compiled(&g, Some(hostile)).unwrap();
        assert!(!c.sql.contains("DROP TABLE"), "{}", c.sql);
        assert!(c.sql.contains("\"we\"\"ird id\""), "{}", c.sql);
        assert!(
            c.params
                .contains(&Scalar::Str("x'); DROP TABLE t; --".into())),
            "{:?}",
            c.params
        );
        // the feature versions and the field's preimage prefix are parameters too
        let version = g
            .feature_version(&FeatureKey::new("v/raw").unwrap())
            .unwrap()
            .to_string();
        assert!(c.params.contains(&Scalar::Str(version)));
        assert!(c.sql.contains("h_md5("), "{}", c.sql);
        assert!(c.sql.contains("left("), "truncated: {}", c.sql);
    }

    #[test]
    fn aggregation_has_no_sql_form() {
        let g = graph(r#"{"relationship": {"type": "N:1", "on": ["we\"ird id"]}}"#);
        assert!(compiled(&g, None).is_none());
    }

    #[test]
    fn a_filter_on_a_missing_column_is_left_to_the_core() {
        let g = graph(r#"{"relationship": {"type": "1:1"}}"#);
        assert!(compiled(&g, Some(Expr::parse("nope = 1").unwrap())).is_none());
    }
}

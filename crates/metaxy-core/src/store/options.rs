//! Options of the store operations, with Metaxy's defaults.

use std::collections::HashMap;

use arrow_array::RecordBatch;

use crate::error::Result;
use crate::filter::Expr;
use crate::key::{FeatureKey, IntoFeatureKey};

/// Options of [`MetadataStore::read`](super::MetadataStore::read) (reference 4.4).
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Read rows of this feature version (requires `with_feature_history`).
    pub feature_version: Option<String>,
    /// Filters applied after deduplication (a filter `status IS NULL` sees the latest row).
    pub filters: Vec<Expr>,
    /// Return exactly these columns.
    pub columns: Option<Vec<String>>,
    /// Fall through to fallback stores when this store lacks the feature (default true).
    pub allow_fallback: bool,
    /// Rows of every feature version, not only the current one.
    pub with_feature_history: bool,
    /// Every row of every sample, not only the latest.
    pub with_sample_history: bool,
    /// Keep soft-deleted samples.
    pub include_soft_deleted: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            feature_version: None,
            filters: Vec::new(),
            columns: None,
            allow_fallback: true,
            with_feature_history: false,
            with_sample_history: false,
            include_soft_deleted: false,
        }
    }
}

impl ReadOptions {
    /// The default read: latest row per sample, current feature version, soft deletes hidden.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a parsed filter.
    pub fn filter(mut self, expr: Expr) -> Self {
        self.filters.push(expr);
        self
    }

    /// Adds a filter given as SQL.
    pub fn filter_sql(self, sql: &str) -> Result<Self> {
        Ok(self.filter(Expr::parse(sql)?))
    }

    /// Returns exactly these columns.
    pub fn columns<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.columns = Some(columns.into_iter().map(Into::into).collect());
        self
    }

    /// Sets `with_feature_history`.
    pub fn with_feature_history(mut self, on: bool) -> Self {
        self.with_feature_history = on;
        self
    }

    /// Sets `with_sample_history`.
    pub fn with_sample_history(mut self, on: bool) -> Self {
        self.with_sample_history = on;
        self
    }

    /// Sets `include_soft_deleted`.
    pub fn include_soft_deleted(mut self, on: bool) -> Self {
        self.include_soft_deleted = on;
        self
    }

    /// Sets `allow_fallback`.
    pub fn allow_fallback(mut self, on: bool) -> Self {
        self.allow_fallback = on;
        self
    }

    /// Reads rows of one feature version (turns on `with_feature_history`).
    pub fn feature_version(mut self, version: impl Into<String>) -> Self {
        self.feature_version = Some(version.into());
        self.with_feature_history = true;
        self
    }
}

/// Options of [`MetadataStore::write_with`](super::MetadataStore::write_with) (reference 4.3).
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// Run id for this write (overrides the store's default).
    pub materialization_id: Option<String>,
    /// Keep the frame's `metaxy_feature_version` / `metaxy_project_version` (copy, rebase).
    pub preserve_feature_version: bool,
}

/// Options of [`MetadataStore::delete`](super::MetadataStore::delete) (reference 4.8).
#[derive(Clone, Debug)]
pub struct DeleteOptions {
    /// Soft delete (append tombstones; default) or physically delete rows.
    pub soft: bool,
    /// Delete across every feature version, not only the current one.
    pub with_feature_history: bool,
    /// Soft delete: tombstone every historical row that matches, not only the latest.
    pub with_sample_history: bool,
}

impl Default for DeleteOptions {
    fn default() -> Self {
        DeleteOptions {
            soft: true,
            with_feature_history: false,
            with_sample_history: false,
        }
    }
}

impl DeleteOptions {
    /// A soft delete (tombstones; the data stays in the table).
    pub fn soft() -> Self {
        Self::default()
    }

    /// A hard delete (rows are physically removed).
    pub fn hard() -> Self {
        DeleteOptions {
            soft: false,
            ..Self::default()
        }
    }
}

/// Options of [`MetadataStore::resolve_update`](super::MetadataStore::resolve_update)
/// (reference 4.6).
#[derive(Clone, Debug, Default)]
pub struct ResolveOptions {
    /// Caller-supplied samples (required for root features; replaces upstream loading
    /// otherwise). Must contain `metaxy_provenance_by_field`.
    pub samples: Option<RecordBatch>,
    /// Filters per feature, applied when reading that feature (upstream or target). As in
    /// Metaxy, filters on the target restrict only the stored side.
    pub filters: HashMap<FeatureKey, Vec<Expr>>,
    /// Filters applied to every upstream read and to the target read.
    pub global_filters: Vec<Expr>,
    /// Filters on the target feature that restrict both the stored and the expected side
    /// (unlike Metaxy, whose target filters make filtered-out samples reappear as new).
    pub target_filters: Vec<Expr>,
    /// Stored samples matching any of these are stale, whatever their provenance.
    pub staleness_predicates: Vec<Expr>,
    /// Return the expected frame as `new` without comparing (stale and orphaned empty).
    pub skip_comparison: bool,
}

impl ResolveOptions {
    /// No samples, no filters.
    pub fn new() -> Self {
        Self::default()
    }

    /// The filters a read of `upstream` (or of the target's stored rows) applies: its own,
    /// then the global ones.
    pub(crate) fn upstream_filters(&self, upstream: &FeatureKey) -> Vec<Expr> {
        self.filters
            .get(upstream)
            .into_iter()
            .flatten()
            .chain(&self.global_filters)
            .cloned()
            .collect()
    }

    /// Sets the samples.
    pub fn samples(mut self, samples: RecordBatch) -> Self {
        self.samples = Some(samples);
        self
    }

    /// Adds a filter for reads of `feature`.
    pub fn filter(mut self, feature: impl IntoFeatureKey, expr: Expr) -> Result<Self> {
        self.filters
            .entry(feature.into_feature_key()?)
            .or_default()
            .push(expr);
        Ok(self)
    }

    /// Adds a global filter.
    pub fn global_filter(mut self, expr: Expr) -> Self {
        self.global_filters.push(expr);
        self
    }

    /// Adds a target filter.
    pub fn target_filter(mut self, expr: Expr) -> Self {
        self.target_filters.push(expr);
        self
    }

    /// Adds a staleness predicate.
    pub fn stale_if(mut self, expr: Expr) -> Self {
        self.staleness_predicates.push(expr);
        self
    }

    /// Sets `skip_comparison`.
    pub fn skip_comparison(mut self, on: bool) -> Self {
        self.skip_comparison = on;
        self
    }
}

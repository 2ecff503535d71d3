//! `delete` (soft and hard) and `drop_feature_metadata` (reference 4.8).

use super::clock::transaction_timestamp;
use super::write::WriteKind;
use super::{DeleteOptions, MetadataStore, ReadOptions, WriteOptions};
use crate::columns::FEATURE_VERSION;
use crate::error::{Error, Result};
use crate::filter::{Expr, Scalar};
use crate::key::IntoFeatureKey;

impl MetadataStore {
    /// Deletes the samples matching `filter` (all, when `None`); requires write mode.
    ///
    /// A soft delete (the default) appends a tombstone for every matching row — nothing is
    /// lost, a later write of the sample restores it, and reads with `include_soft_deleted`
    /// still see it. A hard delete physically removes matching rows of the current feature
    /// version (all versions with `with_feature_history`). Returns the number of rows
    /// tombstoned or removed.
    ///
    /// Unlike Metaxy, a tombstone keeps the feature version of the row it deletes, so deleting
    /// rows of an old version with `with_feature_history` never hides the current version.
    pub async fn delete(
        &self,
        key: impl IntoFeatureKey,
        filter: Option<Expr>,
        options: DeleteOptions,
    ) -> Result<u64> {
        self.require_write()?;
        let key = key.into_feature_key()?;
        if options.soft {
            if key.is_system() {
                return Err(Error::SystemTable {
                    key: key.to_string(),
                    operation: "soft delete".into(),
                });
            }
            let read = ReadOptions {
                filters: filter.into_iter().collect(),
                with_feature_history: options.with_feature_history,
                with_sample_history: options.with_sample_history,
                ..ReadOptions::default()
            };
            let graph = self.graph();
            graph.spec(&key)?;
            let rows = match self.read_key(&graph, key.clone(), read).await {
                Ok(rows) => rows,
                // nothing stored anywhere: nothing to delete
                Err(Error::FeatureNotFound { .. }) => return Ok(0),
                Err(e) => return Err(e),
            };
            if rows.num_rows() == 0 {
                return Ok(0);
            }
            let spec = graph.spec(&key)?;
            let write = WriteOptions {
                materialization_id: None,
                preserve_feature_version: true,
            };
            let tombstones = self.prepare_write(
                &graph,
                spec,
                rows,
                &write,
                transaction_timestamp(),
                WriteKind::Tombstone,
            )?;
            let n = tombstones.num_rows() as u64;
            self.backend().append(&key, tombstones, true).await?;
            return Ok(n);
        }
        let mut filters: Vec<Expr> = filter.into_iter().collect();
        if !options.with_feature_history && !key.is_system() {
            let graph = self.graph();
            let fv = graph.feature_version(&key)?.to_string();
            filters.insert(0, Expr::column_eq(FEATURE_VERSION, Scalar::Str(fv)));
        }
        self.backend()
            .delete(&key, Expr::conjunction(filters).as_ref())
            .await
    }

    /// Drops every row of the feature in this store (its table is removed); write mode.
    pub async fn drop_feature(&self, key: impl IntoFeatureKey) -> Result<()> {
        self.require_write()?;
        let key = key.into_feature_key()?;
        if key.is_system() {
            return Err(Error::SystemTable {
                key: key.to_string(),
                operation: "dropping".into(),
            });
        }
        self.backend().drop_table(&key).await
    }
}

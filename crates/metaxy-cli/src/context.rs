//! What every command needs: the configuration, the feature graph and the stores.

use std::collections::BTreeSet;

use metaxy::config::MetaxyConfig;
use metaxy::{AccessMode, FeatureGraph, FeatureKey, MetadataStore, Project};

use crate::cli::{Format, Global, Selection};
use crate::error::{CliError, CliResult};
use crate::output::Progress;

/// The loaded project plus the global options.
pub struct Ctx {
    /// Global options.
    pub global: Global,
    /// Config, definitions and backends.
    pub project: Project,
}

impl Ctx {
    /// Loads the configuration and the definitions it names.
    pub fn load(global: Global) -> CliResult<Ctx> {
        let mut config = MetaxyConfig::load(global.config.as_deref())?;
        if let Some(p) = &global.project {
            config.project = Some(p.clone());
        }
        let project = Project::from_config(config)?;
        Ok(Ctx { global, project })
    }

    /// True for JSON output.
    pub fn json(&self) -> bool {
        self.global.format == Format::Json
    }

    /// A spinner unless quiet, JSON or not a terminal.
    pub fn progress(&self, message: &str) -> Progress {
        Progress::new(message, self.global.quiet || self.json())
    }

    /// The feature graph: the definitions files, or (with `--from-store`, or when the config
    /// names no definitions) the graph last pushed to the store.
    pub async fn graph(&self) -> CliResult<FeatureGraph> {
        if !self.global.from_store && !self.project.config.definitions.is_empty() {
            return Ok(self.project.graph.clone());
        }
        let store = self
            .project
            .open_store_with(self.global.store.as_deref(), self.empty_graph()?)?;
        let _open = store.open(AccessMode::Read).await?;
        let project = self.project_name(&store).await?;
        let Some(version) = store.latest_pushed_version(Some(&project)).await? else {
            return Err(CliError::usage(
                "NO_FEATURES",
                format!(
                    "no feature definitions: add `definitions = [\"features.json\"]` to metaxy.toml, or push \
                     definitions of project `{project}` to store {} (metaxy push)",
                    store.display()
                ),
            ));
        };
        Ok(store.load_graph(Some(&project), &version).await?)
    }

    /// The project: `--project`, the config's, or the only project pushed to the store.
    pub async fn project_name(&self, store: &MetadataStore) -> CliResult<String> {
        if let Some(p) = &self.project.config.project {
            return Ok(p.clone());
        }
        let projects: BTreeSet<String> = store
            .pushed_features(None)
            .await?
            .into_iter()
            .map(|r| r.project)
            .collect();
        match projects.len() {
            0 => Err(CliError::usage(
                "NO_FEATURES",
                format!(
                    "no feature definitions: add `definitions` (and `project`) to metaxy.toml, or push definitions to store {}",
                    store.display()
                ),
            )),
            1 => Ok(projects.into_iter().next().unwrap_or_default()),
            _ => Err(CliError::usage(
                "MISSING_REQUIRED_FLAG",
                format!(
                    "store {} holds several projects ({}); pick one with --project or `project` in metaxy.toml",
                    store.display(),
                    projects.into_iter().collect::<Vec<_>>().join(", ")
                ),
            )),
        }
    }

    /// An empty graph with the configured truncation (for commands that need no features).
    pub fn empty_graph(&self) -> CliResult<FeatureGraph> {
        Ok(FeatureGraph::with_truncation(
            [],
            Some(self.project.config.hash_truncation_length),
        )?)
    }

    /// The store (by `--store` or the default) for `graph`, constructed but not opened.
    pub fn store(&self, graph: &FeatureGraph) -> CliResult<MetadataStore> {
        Ok(self
            .project
            .open_store_with(self.global.store.as_deref(), graph.clone())?)
    }

    /// A named store for `graph`.
    pub fn named_store(&self, name: &str, graph: &FeatureGraph) -> CliResult<MetadataStore> {
        Ok(self.project.open_store_with(Some(name), graph.clone())?)
    }
}

/// The features a command works on: the named ones, or every feature with --all-features.
pub fn select(
    graph: &FeatureGraph,
    selection: &Selection,
    default_all: bool,
) -> CliResult<Vec<FeatureKey>> {
    if !selection.features.is_empty() && selection.all_features {
        return Err(CliError::usage(
            "CONFLICTING_FLAGS",
            "name features or pass --all-features, not both",
        ));
    }
    if selection.features.is_empty() {
        if selection.all_features || default_all {
            return Ok(graph.topological_order().to_vec());
        }
        return Err(CliError::usage(
            "MISSING_REQUIRED_FLAG",
            "name the features to work on, or pass --all-features",
        ));
    }
    let mut keys = Vec::new();
    let mut unknown = Vec::new();
    for f in &selection.features {
        let key = FeatureKey::new(f)?;
        if graph.contains(&key) {
            keys.push(key);
        } else {
            unknown.push(f.clone());
        }
    }
    if !unknown.is_empty() {
        return Err(CliError::failed(
            "FEATURES_NOT_FOUND",
            format!(
                "unknown feature(s): {}; see `metaxy list features`",
                unknown.join(", ")
            ),
        ));
    }
    Ok(graph.sort_topologically(keys.iter())?)
}

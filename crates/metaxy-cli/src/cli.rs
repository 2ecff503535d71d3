//! The command-line interface: every command, option and help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// metaxy: which samples of which features of a multimodal pipeline need (re)computing.
#[derive(Parser, Debug)]
#[command(name = "metaxy", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// The config file (default: metaxy.toml in this directory or a parent).
    #[arg(long, global = true, env = "METAXY_CONFIG")]
    pub config: Option<PathBuf>,
    /// The store to use (default: the config's `store`).
    #[arg(long, global = true)]
    pub store: Option<String>,
    /// Use the feature definitions last pushed to the store instead of the config's files.
    #[arg(long, global = true)]
    pub from_store: bool,
    /// The project (default: the config's `project`, or the only project in the store).
    #[arg(long, global = true)]
    pub project: Option<String>,
    /// Output format of commands that print data.
    #[arg(long, global = true, value_enum, default_value_t = Format::Plain)]
    pub format: Format,
    /// No progress bars or status lines.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

/// How results are printed.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Human-readable text.
    Plain,
    /// One JSON document.
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show the resolved configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// List features or stores.
    List {
        #[command(subcommand)]
        what: ListWhat,
    },
    /// Describe features or the feature graph.
    Describe {
        #[command(subcommand)]
        what: DescribeWhat,
    },
    /// Render the feature graph.
    Graph {
        #[command(subcommand)]
        action: GraphAction,
    },
    /// Compare two versions of the feature graph (`latest`, `current` or a project version).
    GraphDiff(GraphDiffArgs),
    /// Record the current feature definitions in the store.
    Push(PushArgs),
    /// List the pushed project versions, newest first.
    History(HistoryArgs),
    /// Inspect and manage feature metadata.
    Metadata {
        #[command(subcommand)]
        action: MetadataAction,
    },
    /// Write the increment of a feature (new, stale, orphaned samples) to files.
    Resolve(ResolveArgs),
    /// Ingest a Parquet, CSV or JSON-lines file into a feature.
    Write(WriteArgs),
}

#[derive(Subcommand, Debug)]
pub enum ConfigAction {
    /// Print the configuration (secrets masked).
    Print {
        /// toml or json (default: the global --format, plain meaning toml).
        #[arg(long = "as", value_name = "toml|json")]
        as_: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ListWhat {
    /// The project's features.
    Features {
        /// Include field versions and dependencies.
        #[arg(long, short)]
        verbose: bool,
    },
    /// The configured stores.
    Stores,
}

#[derive(Subcommand, Debug)]
pub enum DescribeWhat {
    /// Features in detail.
    Features {
        /// Feature keys (default: all).
        features: Vec<String>,
    },
    /// The graph: counts, depth, roots and leaves.
    Graph,
}

#[derive(Subcommand, Debug)]
pub enum GraphAction {
    /// Draw the graph.
    Render {
        /// terminal, mermaid or graphviz.
        #[arg(long = "as", value_enum, default_value_t = RenderFormat::Terminal)]
        as_: RenderFormat,
        /// Show fields and their dependencies.
        #[arg(long)]
        show_fields: bool,
    },
}

/// Graph renderings.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenderFormat {
    /// An indented tree for the terminal.
    Terminal,
    /// A Mermaid flowchart.
    Mermaid,
    /// A Graphviz DOT digraph.
    Graphviz,
}

#[derive(Args, Debug)]
pub struct GraphDiffArgs {
    /// The old side: `latest` (last push), `current` (the definitions) or a project version.
    pub from: String,
    /// The new side (default: current).
    #[arg(default_value = "current")]
    pub to: String,
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// Tags recorded with the push, as KEY=VALUE (repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub tags: Vec<String>,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Show at most this many versions.
    #[arg(long)]
    pub limit: Option<usize>,
}

/// Feature selection shared by the metadata commands.
#[derive(Args, Debug, Clone)]
pub struct Selection {
    /// Feature keys (default with --all-features: every feature).
    pub features: Vec<String>,
    /// Every feature of the project.
    #[arg(long)]
    pub all_features: bool,
}

#[derive(Subcommand, Debug)]
pub enum MetadataAction {
    /// Per feature: rows stored, and samples new, stale and orphaned.
    Status(StatusArgs),
    /// Delete samples (soft by default: tombstones).
    Delete(DeleteArgs),
    /// Copy metadata between stores.
    Copy(CopyArgs),
    /// Carry the rows of an old feature version onto the current one without recomputation.
    Rebase(RebaseArgs),
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Only samples of the feature matching this SQL (repeatable).
    #[arg(long = "filter", value_name = "SQL")]
    pub filters: Vec<String>,
    /// SQL applied to every feature read (repeatable).
    #[arg(long = "global-filter", value_name = "SQL")]
    pub global_filters: Vec<String>,
    /// Stored samples matching this SQL count as stale (repeatable, OR-ed).
    #[arg(long = "stale-if", value_name = "SQL")]
    pub stale_if: Vec<String>,
    /// Exit with status 1 when any feature needs work.
    #[arg(long)]
    pub assert_in_sync: bool,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Only samples matching this SQL (repeatable, AND-ed).
    #[arg(long = "filter", value_name = "SQL")]
    pub filters: Vec<String>,
    /// Physically delete rows instead of writing tombstones.
    #[arg(long, conflicts_with = "soft")]
    pub hard: bool,
    /// Write tombstones (the default).
    #[arg(long)]
    pub soft: bool,
    /// Include rows of every feature version.
    #[arg(long)]
    pub with_feature_history: bool,
    /// Confirm a hard delete without a filter.
    #[arg(long)]
    pub yes: bool,
    /// Only count what would be deleted.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct CopyArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// The source store.
    #[arg(long = "from", value_name = "STORE")]
    pub from: String,
    /// The destination store.
    #[arg(long = "to", value_name = "STORE")]
    pub to: String,
    /// Only samples matching this SQL (repeatable).
    #[arg(long = "filter", value_name = "SQL")]
    pub filters: Vec<String>,
    /// Copy only rows of the current feature versions.
    #[arg(long)]
    pub current_version_only: bool,
    /// Copy every historical row, not only the latest per sample.
    #[arg(long)]
    pub with_sample_history: bool,
}

#[derive(Args, Debug)]
pub struct RebaseArgs {
    /// The feature.
    pub feature: String,
    /// The feature version whose rows are carried over.
    #[arg(long = "from", value_name = "FEATURE_VERSION")]
    pub from: String,
    /// The target feature version (default: the current one).
    #[arg(long = "to", value_name = "FEATURE_VERSION")]
    pub to: Option<String>,
    /// Only count the rows.
    #[arg(long)]
    pub dry_run: bool,
}

/// Increment file formats.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// Apache Parquet.
    Parquet,
    /// Arrow IPC file.
    Arrow,
    /// JSON lines.
    Jsonl,
    /// CSV (write only for flat data; structs are JSON text).
    Csv,
}

#[derive(Args, Debug)]
pub struct ResolveArgs {
    /// The feature.
    pub feature: String,
    /// Output directory.
    #[arg(long, short, default_value = ".")]
    pub out: PathBuf,
    /// File format.
    #[arg(long = "as", value_enum, default_value_t = FileFormat::Parquet)]
    pub as_: FileFormat,
    /// Split each part into N files by a stable hash of the sample ids.
    #[arg(long, default_value_t = 1)]
    pub shards: usize,
    /// SQL on the feature's samples (both sides; repeatable).
    #[arg(long = "filter", value_name = "SQL")]
    pub filters: Vec<String>,
    /// SQL applied to every feature read (repeatable).
    #[arg(long = "global-filter", value_name = "SQL")]
    pub global_filters: Vec<String>,
    /// Stored samples matching this SQL count as stale (repeatable, OR-ed).
    #[arg(long = "stale-if", value_name = "SQL")]
    pub stale_if: Vec<String>,
}

#[derive(Args, Debug)]
pub struct WriteArgs {
    /// The feature.
    pub feature: String,
    /// The input file.
    pub file: PathBuf,
    /// Input format (default: from the file extension).
    #[arg(long = "as", value_enum)]
    pub as_: Option<FileFormat>,
    /// Run id recorded with the rows.
    #[arg(long)]
    pub materialization_id: Option<String>,
}

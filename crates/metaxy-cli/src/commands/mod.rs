//! One module per group of commands.

pub mod data;
pub mod info;
pub mod metadata;
pub mod versions;

use crate::cli::{Command, MetadataAction};
use crate::context::Ctx;
use crate::error::CliResult;

/// Runs a command; returns the exit status of a successful run (0, or 1 for a failed check).
pub async fn run(ctx: &Ctx, command: &Command) -> CliResult<u8> {
    match command {
        Command::Config { action } => info::config(ctx, action)?,
        Command::List { what } => info::list(ctx, what).await?,
        Command::Describe { what } => info::describe(ctx, what).await?,
        Command::Graph { action } => info::graph(ctx, action).await?,
        Command::GraphDiff(a) => versions::graph_diff(ctx, a).await?,
        Command::Push(a) => versions::push(ctx, a).await?,
        Command::History(a) => versions::history(ctx, a).await?,
        Command::Metadata { action } => match action {
            MetadataAction::Status(a) => return metadata::status(ctx, a).await,
            MetadataAction::Delete(a) => metadata::delete(ctx, a).await?,
            MetadataAction::Copy(a) => metadata::copy(ctx, a).await?,
            MetadataAction::Rebase(a) => metadata::rebase(ctx, a).await?,
        },
        Command::Resolve(a) => data::resolve(ctx, a).await?,
        Command::Write(a) => data::write(ctx, a).await?,
    }
    Ok(0)
}

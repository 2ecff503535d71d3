//! `metaxy`: the command line of metaxy-rs.
//!
//! Reads `metaxy.toml` (this directory or a parent, or `--config`), picks a store
//! (`--store`), and prints text or JSON (`--format json`). Exit status: 0 success, 1 a failed
//! check (`metadata status --assert-in-sync`), 2 bad usage or configuration, 3 a failed
//! operation. Errors are one line on stderr (or a JSON document with `--format json`).

mod cli;
mod commands;
mod context;
mod error;
mod files;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Format};
use crate::context::Ctx;
use crate::error::CliError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("METAXY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let format = cli.global.format;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return report(
                format,
                CliError::failed("GENERIC_ERROR", format!("cannot start the runtime: {e}")),
            );
        }
    };
    let result = runtime.block_on(async {
        let ctx = Ctx::load(cli.global.clone())?;
        commands::run(&ctx, &cli.command).await
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => report(format, e),
    }
}

fn report(format: Format, e: CliError) -> ExitCode {
    match format {
        Format::Json => println!(
            "{}",
            serde_json::json!({"error": e.code, "message": e.message})
        ),
        Format::Plain => eprintln!("error: {}", e.message),
    }
    ExitCode::from(e.exit)
}

//! `golden`: runs Metaxy golden case files against a backend.
//!
//! ```text
//! cargo run --release -p metaxy-conformance --bin golden -- --backend memory conformance/golden
//! ```
//!
//! Prints `PASS name` or `FAIL name: <first difference>` per case, then `N passed, M failed`;
//! exits 0 only when every case passes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use metaxy_conformance::{backends, golden};

/// Run golden case files (format 1) against a metaxy-rs backend.
#[derive(Parser, Debug)]
#[command(name = "golden", version)]
struct Args {
    /// The backend to run on.
    #[arg(long, default_value = "memory")]
    backend: String,
    /// Case files or directories of case files.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async {
        let factory = match backends::factory(&args.backend) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let files = match golden::collect_case_files(&args.paths) {
            Ok(f) if f.is_empty() => {
                eprintln!("error: no case files (*.json) found in the given paths");
                return ExitCode::from(2);
            }
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let outcomes = golden::run_files(&files, factory.as_ref()).await;
        if let Err(e) = backends::finish(factory.as_ref()).await {
            eprintln!("warning: cleanup failed: {e}");
        }
        let mut failed = 0;
        for o in &outcomes {
            match &o.failure {
                None => println!("PASS {}", o.name),
                Some(reason) => {
                    failed += 1;
                    println!("FAIL {}: {reason}", o.name);
                }
            }
        }
        println!("{} passed, {failed} failed", outcomes.len() - failed);
        if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    })
}

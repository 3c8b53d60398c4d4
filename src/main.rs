//! `telltale`: one binary, every component. The subcommand picks what this process runs;
//! this file only parses the command line and hands over.

mod alertmanager_sd;
mod backup_api;
mod cli;
mod cluster_api;
mod components;
mod config;
mod engine_args;
mod kube_connection;
mod ops;
mod process_info;
mod process_metrics;
mod reload;
mod remote_write;
mod rule_querier;
mod standalone;

use clap::{CommandFactory, FromArgMatches};

// The write path allocates per series; mimalloc keeps that cheap (see the storage
// benchmark in the README).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let command = cli::Cli::command();
    let matches = command.clone().get_matches();
    let cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    process_info::record(&command, &matches);
    ops::init_tracing(&cli.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("telltale: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(components::run(cli.command)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One readable line: the chain of causes, outermost first.
            eprintln!("telltale: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

//! One runner per subcommand: each builds its component from the command line and serves
//! it with the common health/ready/metrics endpoints until a signal stops it.

mod alertmanager;
mod dev_cluster;
mod operator;
mod query;
mod scraper;
mod storage;

use crate::cli::{CheckCommand, Command, TestCommand};

pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Standalone(args) => crate::standalone::run(args).await,
        Command::Storage(args) => storage::run(args).await,
        Command::DevCluster(args) => dev_cluster::run(args).await,
        Command::Scraper(args) => scraper::run(args).await,
        Command::Query(args) => query::run(args).await,
        Command::Alertmanager(args) => alertmanager::run(args).await,
        Command::Operator(args) => operator::run(args).await,
        Command::Crds => {
            print!("{}", telltale_operator::crd_yaml()?);
            Ok(())
        }
        Command::Check(CheckCommand::Rules { files }) => check_rules(&files),
        Command::Check(CheckCommand::Config { files }) => check_config(&files),
        Command::Check(CheckCommand::WebConfig { files }) => check_web_config(&files),
        Command::Test(TestCommand::Rules { files }) => test_rules(&files).await,
        Command::Probe(args) => crate::ops::probe(args).await,
        Command::Backup(args) => crate::backup_api::backup_command(args).await,
        Command::Restore(args) => crate::backup_api::restore_command(args).await,
    }
}

/// Runs unit-test files as `promtool test rules` does, on the real engine over an
/// in-memory store; exits with promtool's code.
async fn test_rules(files: &[std::path::PathBuf]) -> anyhow::Result<()> {
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let code = telltale_alertmanager::rules::unittest::run_files(
        files,
        &crate::rule_querier::memory_store,
        crate::rule_querier::check_expr,
        &mut out,
        &mut err,
    )
    .await;
    if code != 0 {
        use std::io::Write;
        let _ = out.flush();
        let _ = err.flush();
        std::process::exit(code);
    }
    Ok(())
}

/// Prints what `promtool check rules` prints, per file; fails if any file is bad.
fn check_rules(files: &[std::path::PathBuf]) -> anyhow::Result<()> {
    let mut failed = 0;
    for file in files {
        println!("Checking {}", file.display());
        match telltale_alertmanager::check_rules_file(file, crate::rule_querier::check_expr) {
            Ok(summary) => println!("  {summary}\n"),
            Err(e) => {
                println!("  FAILED:\n{e}\n");
                failed += 1;
            }
        }
    }
    match failed {
        0 => Ok(()),
        n => anyhow::bail!("{n} of {} rule files failed the check", files.len()),
    }
}

/// Checks web configuration files as `promtool check web-config` does (and prints like it,
/// on stderr): `FILE SUCCESS` or `FILE FAILED: reason`.
fn check_web_config(files: &[std::path::PathBuf]) -> anyhow::Result<()> {
    let mut failed = 0;
    for file in files {
        match telltale_web::WebConfigFile::load(file) {
            Ok(_) => eprintln!("{} SUCCESS", file.display()),
            Err(e) => {
                eprintln!("{} FAILED: {e}", file.display());
                failed += 1;
            }
        }
    }
    match failed {
        0 => Ok(()),
        n => anyhow::bail!(
            "{n} of {} web configuration files failed the check",
            files.len()
        ),
    }
}

/// Checks prometheus.yml files as `promtool check config` does (and prints like it): the
/// file, its scrape configs, then every rule file it names.
fn check_config(files: &[std::path::PathBuf]) -> anyhow::Result<()> {
    let mut failed = 0;
    for file in files {
        println!("Checking {}", file.display());
        match crate::config::check_prometheus_config(file) {
            Ok(checked) => {
                for warning in &checked.warnings {
                    println!("  WARNING: {warning}");
                }
                println!(
                    " SUCCESS: {} rule files found\n SUCCESS: {} is valid prometheus config file syntax\n",
                    checked.rule_files.len(),
                    file.display()
                );
                for (rules, spec) in &checked.rule_files {
                    let n: usize = spec.groups.iter().map(|g| g.rules.len()).sum();
                    println!("Checking {}\n  SUCCESS: {n} rules found\n", rules.display());
                }
            }
            Err(e) => {
                println!("  FAILED: {e}\n");
                failed += 1;
            }
        }
    }
    match failed {
        0 => Ok(()),
        n => anyhow::bail!(
            "{n} of {} configuration files failed the check",
            files.len()
        ),
    }
}

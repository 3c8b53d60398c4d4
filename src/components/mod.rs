//! One runner per subcommand: each builds its component from the command line and serves
//! it with the common health/ready/metrics endpoints until a signal stops it.

mod alertmanager;
mod operator;
mod query;
mod scraper;
mod storage;

pub use storage::open_engine;

use crate::cli::Command;

pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Standalone(args) => crate::standalone::run(args).await,
        Command::Storage(args) => storage::run(args).await,
        Command::Scraper(args) => scraper::run(args).await,
        Command::Query(args) => query::run(args).await,
        Command::Alertmanager(args) => alertmanager::run(args).await,
        Command::Operator(args) => operator::run(args).await,
        Command::Crds => {
            print!("{}", telltale_operator::crd_yaml()?);
            Ok(())
        }
    }
}

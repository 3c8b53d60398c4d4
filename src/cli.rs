//! The command line: one subcommand per component, each with flags and environment
//! variables for its addresses.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "telltale",
    version,
    about = "Kubernetes-native metrics monitoring and alerting"
)]
pub struct Cli {
    /// Log filter, e.g. `info` or `telltale_scraper=debug,info`.
    #[arg(long, global = true, env = "TELLTALE_LOG", default_value = "info")]
    pub log_level: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Every component in one process: storage, scraper, query and alerting.
    Standalone(StandaloneArgs),
    /// A storage node: the time-series engine served over gRPC.
    Storage(StorageArgs),
    /// Scrapes targets and receives pushed samples, writing them to storage.
    Scraper(ScraperArgs),
    /// The PromQL engine and the Prometheus HTTP API over storage.
    Query(QueryArgs),
    /// Evaluates alert rules and sends notifications.
    Alertmanager(AlertmanagerArgs),
    /// The Kubernetes operator for MetricCluster, ScrapeTarget and AlertRule.
    Operator(OperatorArgs),
    /// Prints the CustomResourceDefinitions as YAML.
    Crds,
    /// Validates files without running anything.
    #[command(subcommand)]
    Check(CheckCommand),
}

#[derive(Subcommand, Debug)]
pub enum CheckCommand {
    /// Checks Prometheus rule files (or AlertRule resources) like `promtool check rules`.
    Rules {
        /// Rule files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct StandaloneArgs {
    /// Where samples and state are kept.
    #[arg(long, env = "TELLTALE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// HTTP address: Prometheus API, remote_write, health and metrics.
    #[arg(long, env = "TELLTALE_LISTEN", default_value = "127.0.0.1:9090")]
    pub listen: SocketAddr,
    /// gRPC address of the embedded storage node (port 0 picks a free one).
    #[arg(long, env = "TELLTALE_GRPC_LISTEN", default_value = "127.0.0.1:0")]
    pub grpc_listen: SocketAddr,
    /// ScrapeTarget, AlertRule and MetricCluster YAML files (repeatable).
    #[arg(short = 'f', long = "file")]
    pub files: Vec<PathBuf>,
    /// How often Telltale scrapes its own /metrics.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub self_scrape_interval: telltale_crds::PromDuration,
    /// URL that alert notifications link back to.
    #[arg(long, env = "TELLTALE_EXTERNAL_URL")]
    pub external_url: Option<String>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// How the storage engine keeps data (retention per tier, out-of-order window, flushes).
#[derive(Args, Debug, Clone)]
pub struct EngineArgs {
    /// How long raw samples are kept (`0`: forever).
    #[arg(long = "retention-raw", default_value = "7d", value_parser = parse_duration)]
    pub retention_raw: telltale_crds::PromDuration,
    /// How long 1-minute rollups are kept (`0`: forever).
    #[arg(long = "retention-1m", default_value = "30d", value_parser = parse_duration)]
    pub retention_1m: telltale_crds::PromDuration,
    /// How long 1-hour rollups are kept (`0`: forever).
    #[arg(long = "retention-1h", default_value = "365d", value_parser = parse_duration)]
    pub retention_1h: telltale_crds::PromDuration,
    /// Samples this much older than the newest one are still taken in memory; older
    /// ones are backfill, written straight to their day (both are kept).
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub out_of_order_window: telltale_crds::PromDuration,
    /// How often the in-memory head is flushed to compressed chunks.
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    pub flush_interval: telltale_crds::PromDuration,
}

impl EngineArgs {
    pub fn options(&self) -> telltale_storage::EngineOptions {
        let keep = |d: &telltale_crds::PromDuration| {
            let d = d.as_duration();
            (!d.is_zero()).then_some(d)
        };
        telltale_storage::EngineOptions {
            retention: telltale_storage::Retention {
                raw: keep(&self.retention_raw),
                minute: keep(&self.retention_1m),
                hour: keep(&self.retention_1h),
            },
            out_of_order_window: self.out_of_order_window.as_duration(),
            flush_interval: self.flush_interval.as_duration(),
            ..telltale_storage::EngineOptions::default()
        }
    }
}

#[derive(Args, Debug)]
pub struct StorageArgs {
    #[arg(long, env = "TELLTALE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// gRPC address of the storage API.
    #[arg(long, env = "TELLTALE_GRPC_LISTEN", default_value = "0.0.0.0:9095")]
    pub grpc_listen: SocketAddr,
    /// HTTP address for health and metrics.
    #[arg(long, env = "TELLTALE_LISTEN", default_value = "0.0.0.0:9091")]
    pub listen: SocketAddr,
}

#[derive(Args, Debug)]
pub struct ScraperArgs {
    /// gRPC address of the storage node (`host:port`).
    #[arg(long, env = "TELLTALE_STORAGE", default_value = "127.0.0.1:9095")]
    pub storage: String,
    /// HTTP address: remote_write, targets, health and metrics.
    #[arg(long, env = "TELLTALE_LISTEN", default_value = "0.0.0.0:9092")]
    pub listen: SocketAddr,
    /// ScrapeTarget YAML files (repeatable).
    #[arg(short = 'f', long = "file")]
    pub files: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct QueryArgs {
    #[arg(long, env = "TELLTALE_STORAGE", default_value = "127.0.0.1:9095")]
    pub storage: String,
    /// HTTP address of the Prometheus API.
    #[arg(long, env = "TELLTALE_LISTEN", default_value = "0.0.0.0:9090")]
    pub listen: SocketAddr,
}

#[derive(Args, Debug)]
pub struct AlertmanagerArgs {
    #[arg(long, env = "TELLTALE_STORAGE", default_value = "127.0.0.1:9095")]
    pub storage: String,
    /// Where alert state, the notification log and silences are kept.
    #[arg(long, env = "TELLTALE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// HTTP address: alerts and rules API, health and metrics.
    #[arg(long, env = "TELLTALE_LISTEN", default_value = "0.0.0.0:9093")]
    pub listen: SocketAddr,
    /// AlertRule and MetricCluster YAML files (repeatable).
    #[arg(short = 'f', long = "file")]
    pub files: Vec<PathBuf>,
    #[arg(long, env = "TELLTALE_EXTERNAL_URL")]
    pub external_url: Option<String>,
}

#[derive(Args, Debug)]
pub struct OperatorArgs {
    /// HTTP address for health and metrics.
    #[arg(long, env = "TELLTALE_LISTEN", default_value = "0.0.0.0:9094")]
    pub listen: SocketAddr,
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "TELLTALE_NAMESPACE")]
    pub namespace: Option<String>,
}

fn parse_duration(s: &str) -> Result<telltale_crds::PromDuration, String> {
    telltale_crds::PromDuration::parse(s)
}

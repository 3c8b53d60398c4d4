//! The command line: one subcommand per component, each with flags and environment
//! variables for its addresses.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use telltale_crds::PromDuration;

pub use crate::engine_args::EngineArgs;

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
    /// A whole sharded, replicated cluster on this machine for development and tests:
    /// every storage replica a child process, scraper/push and query roles in-process.
    DevCluster(DevClusterArgs),
    /// Prints the CustomResourceDefinitions as YAML.
    Crds,
    /// Validates files without running anything.
    #[command(subcommand)]
    Check(CheckCommand),
    /// Runs unit tests.
    #[command(subcommand)]
    Test(TestCommand),
    /// Asks a running standalone or dev-cluster (`--web.enable-admin-api`) to back up
    /// every shard to object storage.
    Backup(BackupArgs),
    /// Restores a shard of a backup into a new data directory, which `standalone` reads.
    Restore(RestoreArgs),
    /// GETs a URL and exits 0 on a 2xx answer, 1 otherwise: the Kubernetes exec probe of
    /// a component whose HTTP port needs TLS client certificates or passwords, pointed at
    /// its `--probe.listen-address`.
    Probe(ProbeArgs),
}

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The running process's HTTP address, e.g. `http://127.0.0.1:9090`.
    #[arg(long)]
    pub url: String,
    /// Where the backup goes: `s3://BUCKET/PREFIX` (credentials, region and
    /// `AWS_ENDPOINT_URL` from the running process's `AWS_*` environment) or `file:///PATH`
    /// (on the running process's machine).
    #[arg(long)]
    pub to: String,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The backup: `s3://BUCKET/PREFIX` (this process's `AWS_*` environment) or
    /// `file:///PATH`.
    #[arg(long)]
    pub from: String,
    /// The new data directory (absent or empty).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// The shard to restore (needed when the backup has several).
    #[arg(long)]
    pub shard: Option<u32>,
    /// Restore only into a data directory without data (nothing in it but `lost+found`),
    /// else leave it as it is and succeed: a pod's init container, safe on every
    /// restart. The files are staged inside the directory (it may be a volume's mount
    /// point) and an interrupted restore is finished by the next run.
    #[arg(long)]
    pub if_empty: bool,
    /// The replicas of the shard the restored data will be replica 1 of, as `telltale
    /// storage --peers` lists them: the restore waits until a majority of the first
    /// `--initial-voters` answers and none says it belongs to a group (the rule by which
    /// replica 1 creates a group), and is skipped when one does, so a replica 1 that lost
    /// its disk in a running cluster rejoins it instead of starting a second group.
    #[arg(long, requires = "if_empty")]
    pub peers: Option<String>,
    /// How many of `--peers`, lowest ids first, form the group when it is created
    /// (default: all).
    #[arg(long, requires = "peers")]
    pub initial_voters: Option<usize>,
    /// The client identity of the calls to `--peers`.
    #[command(flatten)]
    pub grpc_tls: GrpcTlsArgs,
}

#[derive(Args, Debug)]
pub struct ProbeArgs {
    /// The URL, e.g. `http://127.0.0.1:9190/ready`.
    pub url: String,
    /// How long the answer may take.
    #[arg(long, default_value = "2s", value_parser = PromDuration::parse)]
    pub timeout: PromDuration,
}

#[derive(Subcommand, Debug)]
pub enum TestCommand {
    /// Runs promtool's rule unit-test files as `promtool test rules` does (exit code 1
    /// when a test fails).
    Rules {
        /// Unit-test files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum CheckCommand {
    /// Checks Prometheus configuration files (prometheus.yml and the rule files they name)
    /// like `promtool check config`.
    Config {
        /// Configuration files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Checks Prometheus rule files (or AlertRule resources) like `promtool check rules`.
    Rules {
        /// Rule files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Checks web configuration files (`--web.config.file`) like `promtool check
    /// web-config`: the YAML, and the certificates, keys and CAs it names.
    #[command(name = "web-config")]
    WebConfig {
        /// Web configuration files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct StandaloneArgs {
    #[command(flatten)]
    pub silences: SilenceArgs,
    /// Where samples and state are kept.
    #[arg(long, env = "TELLTALE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// HTTP address: Prometheus API, remote_write, health and metrics.
    #[arg(long, env = "TELLTALE_LISTEN", default_value = "127.0.0.1:9090")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub web: WebArgs,
    /// gRPC address of the embedded storage node (port 0 picks a free one).
    #[arg(long, env = "TELLTALE_GRPC_LISTEN", default_value = "127.0.0.1:0")]
    pub grpc_listen: SocketAddr,
    /// ScrapeTarget, AlertRule and MetricCluster YAML files (repeatable).
    #[arg(short = 'f', long = "file")]
    pub files: Vec<PathBuf>,
    /// Prometheus's configuration file (prometheus.yml): its scrape configs, rule files
    /// and external labels. Reloaded, with the `-f` files, on SIGHUP and `POST /-/reload`.
    #[arg(long = "config.file", env = "TELLTALE_CONFIG_FILE")]
    pub config_file: Option<PathBuf>,
    /// Whether `POST /-/reload` reloads the configuration (Prometheus's flag; on unless
    /// `--web.enable-lifecycle=false`).
    #[arg(
        long = "web.enable-lifecycle",
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub enable_lifecycle: bool,
    /// How often Telltale scrapes its own /metrics.
    #[arg(long, default_value = "15s", value_parser = PromDuration::parse)]
    pub self_scrape_interval: PromDuration,
    /// URL that alert notifications link back to.
    #[arg(long, env = "TELLTALE_EXTERNAL_URL")]
    pub external_url: Option<String>,
    /// `NAME=VALUE` (repeatable): Prometheus's `global.external_labels`, which rule
    /// templates see as `$externalLabels`.
    #[arg(long = "external-label", value_parser = parse_label)]
    pub external_labels: Vec<(String, String)>,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub raft_log: RaftLogArgs,
    #[command(flatten)]
    pub push: PushArgs,
    #[command(flatten)]
    pub cache: QueryEngineArgs,
}

/// The query engine: its range-query result cache and Prometheus's feature flags.
#[derive(Args, Debug, Clone)]
pub struct QueryEngineArgs {
    /// Prometheus's `--enable-feature` (repeatable, or comma-separated):
    /// `promql-experimental-functions`, `promql-duration-expr`,
    /// `promql-delayed-name-removal`. Others are logged and ignored, as Prometheus does.
    #[arg(long = "enable-feature")]
    pub enable_features: Vec<String>,
    /// Memory for cached range-query intervals, in bytes (`0`: no cache).
    #[arg(long, env = "TELLTALE_RESULT_CACHE_BYTES", default_value_t = 256 << 20)]
    pub result_cache_bytes: usize,
    /// Intervals newer than this are never cached (data may still arrive for them).
    #[arg(long, default_value = "10m", value_parser = PromDuration::parse)]
    pub result_cache_max_freshness: PromDuration,
    /// Prometheus's `--web.enable-admin-api`: serve the TSDB admin endpoints
    /// (`/api/v1/admin/tsdb/delete_series`, `clean_tombstones`, `snapshot`). Off by
    /// default: they answer 503 "admin APIs disabled".
    #[arg(long = "web.enable-admin-api")]
    pub enable_admin_api: bool,
}

impl QueryEngineArgs {
    /// Query engine options with this cache and these features.
    pub fn engine_options(&self) -> telltale_query::EngineOptions {
        let (features, unknown) =
            telltale_query::Features::from_flags(self.enable_features.iter().map(String::as_str));
        for flag in unknown {
            tracing::warn!(option = %flag, "unknown option for --enable-feature");
        }
        telltale_query::EngineOptions {
            features,
            cache: telltale_query::CacheOptions {
                max_bytes: self.result_cache_bytes,
                max_freshness_ms: self.result_cache_max_freshness.as_duration().as_millis() as i64,
                ..Default::default()
            },
            ..Default::default()
        }
    }
}

/// How a replica keeps its Raft log bounded (standalone and storage).
#[derive(Args, Debug, Clone)]
pub struct RaftLogArgs {
    /// Raft: build a snapshot (flush the engine, purge the log before it) after this
    /// many entries.
    #[arg(long, default_value_t = 5000)]
    pub raft_snapshot_every: u64,
    /// Raft: the bound of the log's bytes since the last snapshot, held at all times: a
    /// snapshot is built at half of it, and writes wait while it is reached (`0`: no
    /// byte bound).
    #[arg(long, default_value_t = telltale_replica::DEFAULT_LOG_MAX_BYTES)]
    pub raft_log_max_bytes: u64,
    /// Raft: entries kept in the log below the last snapshot (for followers slightly
    /// behind); older ones are purged and a follower that needs them gets the snapshot.
    /// A group of one keeps none.
    #[arg(long, default_value_t = 1000)]
    pub raft_logs_to_keep: u64,
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
    #[command(flatten)]
    pub web: WebArgs,
    #[command(flatten)]
    pub grpc_tls: GrpcTlsArgs,
    /// The shard this replica belongs to (with `--peers`).
    #[arg(long, env = "TELLTALE_SHARD", default_value_t = 0)]
    pub shard: u32,
    /// This replica's id among `--peers`.
    #[arg(long, env = "TELLTALE_REPLICA_ID", requires = "peers")]
    pub replica_id: Option<u64>,
    /// gRPC addresses of every replica of the shard, this one included:
    /// `1=host:port,2=host:port,3=host:port`. Absent: a group of this one replica.
    #[arg(long, env = "TELLTALE_PEERS", requires = "replica_id")]
    pub peers: Option<String>,
    /// How many of `--peers`, lowest ids first, form the group when it is first created
    /// (default: all). The other peers are replicas that a membership change adds later
    /// (`telltale operator` lists every replica a shard can grow to).
    #[arg(long, env = "TELLTALE_INITIAL_VOTERS", requires = "peers")]
    pub initial_voters: Option<usize>,
    #[command(flatten)]
    pub raft_log: RaftLogArgs,
    /// Serve `POST /api/v1/admin/backup` on the HTTP port (`telltale backup`; on the
    /// shard's leader).
    #[arg(long = "web.enable-admin-api")]
    pub enable_admin_api: bool,
    /// Raft: the shortest election timeout (the longest is twice as long); heartbeats
    /// go out five times as often.
    #[arg(long, default_value = "500ms", value_parser = PromDuration::parse)]
    pub raft_election_timeout: PromDuration,
}

#[derive(Args, Debug)]
pub struct DevClusterArgs {
    /// Number of shards.
    #[arg(long, default_value_t = 1)]
    pub shards: u32,
    /// Replicas per shard.
    #[arg(long, default_value_t = 3)]
    pub replicas: u64,
    /// Each replica keeps its data in `DIR/shard-S/replica-N`, its log in `...log`.
    #[arg(long, default_value = "./dev-cluster")]
    pub data_dir: PathBuf,
    /// HTTP address: remote_write, the Prometheus and Alertmanager APIs, the web UI,
    /// `/api/v1/status/cluster`.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub web: WebArgs,
    /// Mutual TLS between the replicas and the cluster's clients: a CA and a certificate
    /// per replica (role storage) and for the clients are made in `DATA_DIR/tls/`.
    #[arg(long)]
    pub grpc_tls: bool,
    /// Restart replica processes that exit (by default a dead replica stays dead).
    #[arg(long)]
    pub restart_dead: bool,
    /// With `--restart-dead`: how long a dead replica stays down before its restart.
    #[arg(long, default_value = "1s", value_parser = PromDuration::parse)]
    pub restart_delay: PromDuration,
    /// Passed to every replica (`--raft-snapshot-every`).
    #[arg(long, default_value_t = 5000)]
    pub raft_snapshot_every: u64,
    /// Exemplars kept per storage replica, passed to every replica (Prometheus's
    /// `--storage.exemplars.exemplars-limit`).
    #[arg(long = "storage.exemplars.exemplars-limit", default_value_t = 100_000)]
    pub exemplars_limit: usize,
    /// Read from any replica instead of the leader.
    #[arg(long)]
    pub follower_reads: bool,
    /// ScrapeTarget, AlertRule and MetricCluster YAML files (repeatable), as
    /// `standalone` takes them.
    #[arg(short = 'f', long = "file")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub cache: QueryEngineArgs,
}

#[derive(Args, Debug)]
pub struct ScraperArgs {
    /// gRPC address of the storage node (`host:port`).
    #[arg(long, env = "TELLTALE_STORAGE", default_value = "127.0.0.1:9095")]
    pub storage: String,
    /// YAML shard map of a sharded cluster (replaces `--storage`; re-read on change).
    #[arg(long, env = "TELLTALE_SHARD_MAP")]
    pub shard_map: Option<PathBuf>,
    /// HTTP address: remote_write, targets, health and metrics.
    #[arg(long, env = "TELLTALE_LISTEN", default_value = "0.0.0.0:9092")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub web: WebArgs,
    #[command(flatten)]
    pub grpc_tls: GrpcTlsArgs,
    /// ScrapeTarget YAML files (repeatable).
    #[arg(short = 'f', long = "file")]
    pub files: Vec<PathBuf>,
    /// This replica's name (its pod, `<set>-<ordinal>` in a StatefulSet); with
    /// `--members-service` or `--members`, targets are spread over the live replicas by
    /// rendezvous hashing.
    #[arg(long, env = "POD_NAME")]
    pub member_name: Option<String>,
    /// Number of scraper replicas (the StatefulSet's replica count): the member set is
    /// the StatefulSet's ordinals. With `--members-service`, only the set used until the
    /// Service's endpoints are first listed.
    #[arg(long, requires = "member_name")]
    pub members: Option<u32>,
    /// The scrapers' headless Service: the live member set is its ready endpoints
    /// (EndpointSlices, watched), named by pod. Its namespace is `--watch-namespace`,
    /// else `POD_NAMESPACE`.
    #[arg(long, requires = "member_name")]
    pub members_service: Option<String>,
    /// The pod's namespace (from the downward API), for `--members-service`.
    #[arg(long, env = "POD_NAMESPACE", hide = true)]
    pub pod_namespace: Option<String>,
    /// Where the queue of batches storage could not take is kept (replayed in order
    /// when storage returns; survives restarts).
    #[arg(long, env = "TELLTALE_QUEUE_DIR", default_value = "./data/queue")]
    pub queue_dir: PathBuf,
    /// Largest size of that queue; beyond it writes fail and are counted.
    #[arg(long, default_value_t = 1 << 30)]
    pub queue_max_bytes: u64,
    #[command(flatten)]
    pub push: PushArgs,
    /// Watch Kubernetes (in-cluster config) for ScrapeTargets, pods and endpoints
    /// instead of reading `-f` files.
    #[arg(long)]
    pub kubernetes_discovery: bool,
    /// With `--kubernetes-discovery`: the MetricCluster whose `serviceMonitorSelector`,
    /// `podMonitorSelector`, `scrapeConfigSelector` (and their namespace selectors) pick
    /// prometheus-operator's ServiceMonitors, PodMonitors and ScrapeConfigs to scrape.
    #[arg(long, env = "TELLTALE_METRIC_CLUSTER")]
    pub metric_cluster: Option<String>,
    /// Namespace to watch (all namespaces when absent).
    #[arg(long, env = "TELLTALE_WATCH_NAMESPACE")]
    pub watch_namespace: Option<String>,
    /// Also scrape pods annotated `prometheus.io/scrape: "true"`.
    #[arg(long)]
    pub scrape_annotated_pods: bool,
}

/// Push receivers and series limits (scraper and standalone).
#[derive(Args, Debug, Clone)]
pub struct PushArgs {
    /// File holding the bearer token push clients must send (no auth when absent).
    #[arg(long, env = "TELLTALE_PUSH_TOKEN_FILE")]
    pub push_token_file: Option<PathBuf>,
    /// Largest push request body, in bytes.
    #[arg(long, default_value_t = 32 << 20)]
    pub push_max_body_bytes: usize,
    /// Push requests handled at once; more are answered 429 with `Retry-After: 1`
    /// (0: no cap). Above Prometheus's default `max_shards` (200): Prometheus 2.x drops a
    /// batch answered 429 unless `retry_on_http_429` is set.
    #[arg(long, default_value_t = 512)]
    pub push_max_concurrent_requests: usize,
    /// Most labels a pushed series may have, `__name__` included (0: no limit); a series
    /// over it is rejected, the rest of its request stored.
    #[arg(long, default_value_t = 0)]
    pub push_label_limit: u64,
    /// Longest label name of a pushed series, in bytes (0: no limit).
    #[arg(long, default_value_t = 0)]
    pub push_label_name_length_limit: u64,
    /// Longest label value of a pushed series, in bytes (0: no limit).
    #[arg(long, default_value_t = 0)]
    pub push_label_value_length_limit: u64,
    /// New series one target (job, instance) may create per minute (0: no limit).
    #[arg(long, default_value_t = 0)]
    pub series_limit_per_target: u64,
    /// New series all targets together may create per minute (0: no limit).
    #[arg(long, default_value_t = 0)]
    pub series_limit_global: u64,
}

impl PushArgs {
    pub fn push_options(&self) -> anyhow::Result<telltale_scraper::PushOptions> {
        let bearer_token = match &self.push_token_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("--push-token-file {}: {e}", path.display()))?
                    .trim()
                    .to_string(),
            ),
            None => None,
        };
        Ok(telltale_scraper::PushOptions {
            bearer_token,
            max_body_bytes: self.push_max_body_bytes,
            max_concurrent_requests: self.push_max_concurrent_requests,
            label_limits: telltale_scraper::pull::limits::Limits {
                label_limit: self.push_label_limit,
                label_name_length_limit: self.push_label_name_length_limit,
                label_value_length_limit: self.push_label_value_length_limit,
                ..Default::default()
            },
            ..Default::default()
        })
    }

    pub fn limits(&self) -> telltale_scraper::CardinalityLimits {
        telltale_scraper::CardinalityLimits {
            per_target_new_series: self.series_limit_per_target,
            global_new_series: self.series_limit_global,
            ..Default::default()
        }
    }
}

#[derive(Args, Debug)]
pub struct QueryArgs {
    #[arg(long, env = "TELLTALE_STORAGE", default_value = "127.0.0.1:9095")]
    pub storage: String,
    /// YAML shard map of a sharded cluster (replaces `--storage`; re-read on change).
    #[arg(long, env = "TELLTALE_SHARD_MAP")]
    pub shard_map: Option<PathBuf>,
    /// HTTP address of the Prometheus API.
    #[arg(long, env = "TELLTALE_LISTEN", default_value = "0.0.0.0:9090")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub web: WebArgs,
    #[command(flatten)]
    pub grpc_tls: GrpcTlsArgs,
    /// Base URL of a scraper replica (repeatable, or comma-separated): `/api/v1/targets`
    /// merges every replica's targets, each naming the replica that owns it.
    #[arg(
        long = "scraper-url",
        env = "TELLTALE_SCRAPER_URLS",
        value_delimiter = ','
    )]
    pub scraper_urls: Vec<String>,
    /// Base URL of the alertmanager: `/api/v1/alerts`, `/api/v1/rules` and `/api/v2/...`
    /// are forwarded to it.
    #[arg(long, env = "TELLTALE_ALERTMANAGER_URL")]
    pub alertmanager_url: Option<String>,
    #[command(flatten)]
    pub peer_tls: PeerTlsArgs,
    #[command(flatten)]
    pub cache: QueryEngineArgs,
}

#[derive(Args, Debug)]
pub struct AlertmanagerArgs {
    #[command(flatten)]
    pub silences: SilenceArgs,
    #[arg(long, env = "TELLTALE_STORAGE", default_value = "127.0.0.1:9095")]
    pub storage: String,
    /// YAML shard map of a sharded cluster (replaces `--storage`; re-read on change).
    #[arg(long, env = "TELLTALE_SHARD_MAP")]
    pub shard_map: Option<PathBuf>,
    /// Where alert state, the notification log and silences are kept.
    #[arg(long, env = "TELLTALE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// HTTP address: alerts and rules API, health and metrics.
    #[arg(long, env = "TELLTALE_LISTEN", default_value = "0.0.0.0:9093")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub web: WebArgs,
    #[command(flatten)]
    pub grpc_tls: GrpcTlsArgs,
    /// AlertRule and MetricCluster YAML files (repeatable).
    #[arg(short = 'f', long = "file")]
    pub files: Vec<PathBuf>,
    #[arg(long, env = "TELLTALE_EXTERNAL_URL")]
    pub external_url: Option<String>,
    /// `NAME=VALUE` (repeatable): Prometheus's `global.external_labels`, which rule
    /// templates see as `$externalLabels`.
    #[arg(long = "external-label", value_parser = parse_label)]
    pub external_labels: Vec<(String, String)>,
    /// Read AlertRules, the MetricCluster's alerting section and receivers' Secrets from
    /// the Kubernetes API (in-cluster config or kubeconfig), watched and applied live;
    /// `-f` rules are applied as well.
    #[arg(long)]
    pub kubernetes: bool,
    /// Namespace of the AlertRules, the MetricCluster and the Secrets (with
    /// `--kubernetes`).
    #[arg(long, env = "POD_NAMESPACE")]
    pub watch_namespace: Option<String>,
    /// The MetricCluster whose `spec.alerting` routes the alerts (with `--kubernetes`;
    /// replaces an alerting section from `-f` files).
    #[arg(long, env = "TELLTALE_METRIC_CLUSTER")]
    pub metric_cluster: Option<String>,
}

#[derive(Args, Debug)]
pub struct OperatorArgs {
    /// HTTP address for health and metrics.
    #[arg(long, env = "TELLTALE_LISTEN", default_value = "0.0.0.0:9094")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub web: WebArgs,
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "TELLTALE_NAMESPACE")]
    pub namespace: Option<String>,
}

/// Prometheus's web configuration file, for the process's HTTP server.
#[derive(Args, Debug, Clone, Default)]
pub struct WebArgs {
    /// Prometheus's web configuration file (the exporter-toolkit YAML): TLS, client
    /// certificates, basic auth users (bcrypt), response headers. Re-read when it changes;
    /// `telltale check web-config FILE` checks one.
    #[arg(long = "web.config.file", env = "TELLTALE_WEB_CONFIG_FILE")]
    pub web_config_file: Option<PathBuf>,
    /// A loopback address serving only `/-/healthy`, `/-/ready` (and `/healthz`,
    /// `/ready`), plain and without passwords, for `telltale probe` when the HTTP port
    /// needs what the kubelet cannot present (a client certificate, a password).
    #[arg(long = "probe.listen-address", env = "TELLTALE_PROBE_LISTEN", value_parser = parse_loopback)]
    pub probe_listen: Option<SocketAddr>,
}

/// A loopback socket address (what the probe listener may bind).
fn parse_loopback(s: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = s.parse().map_err(|e| format!("{s:?}: {e}"))?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "{addr}: the probe listener is plain and open, so it binds loopback only (127.0.0.1:PORT)"
        ));
    }
    Ok(addr)
}

impl WebArgs {
    /// The file, loaded and checked (certificates and keys read), if one is named.
    pub fn load(&self) -> anyhow::Result<Option<telltale_web::WebConfigFile>> {
        Ok(self
            .web_config_file
            .as_ref()
            .map(telltale_web::WebConfigFile::load)
            .transpose()?)
    }
}

/// TLS of the query's calls to the scrapers and the alertmanager (`--scraper-url`,
/// `--alertmanager-url` at `https://`), besides the system's roots. The caller's
/// `Authorization` goes with each call.
#[derive(Args, Debug, Clone, Default)]
pub struct PeerTlsArgs {
    /// A CA (PEM) the scrapers' and the alertmanager's certificates may chain to.
    #[arg(long = "peer.tls-ca-file")]
    pub ca_file: Option<PathBuf>,
    /// The client certificate to present where they ask for one (with its key).
    #[arg(long = "peer.tls-cert-file", requires = "key_file")]
    pub cert_file: Option<PathBuf>,
    #[arg(long = "peer.tls-key-file", requires = "cert_file")]
    pub key_file: Option<PathBuf>,
}

impl PeerTlsArgs {
    pub fn settings(&self) -> telltale_web::client::TlsSettings {
        use telltale_web::client::{Material, TlsSettings};
        let file = |flag: &str, p: &Option<PathBuf>| p.as_ref().map(|p| Material::file(flag, p));
        TlsSettings {
            ca: file("--peer.tls-ca-file", &self.ca_file),
            cert: file("--peer.tls-cert-file", &self.cert_file),
            key: file("--peer.tls-key-file", &self.key_file),
            ..TlsSettings::default()
        }
    }
}

/// Mutual TLS of the storage gRPC (server and clients): the cluster's CA and this
/// process's certificate and key, PEM files re-read when they change.
#[derive(Args, Debug, Clone, Default)]
pub struct GrpcTlsArgs {
    /// The CA whose certificates peers must present (and that signed the replicas').
    #[arg(
        long = "grpc.tls-ca-file",
        env = "TELLTALE_GRPC_TLS_CA_FILE",
        requires_all = ["grpc_tls_cert_file", "grpc_tls_key_file"]
    )]
    pub grpc_tls_ca_file: Option<PathBuf>,
    /// This process's certificate (chain), signed by the CA; its URI SAN
    /// `urn:telltale:role:<role>` says what it may call.
    #[arg(
        long = "grpc.tls-cert-file",
        env = "TELLTALE_GRPC_TLS_CERT_FILE",
        requires_all = ["grpc_tls_ca_file", "grpc_tls_key_file"]
    )]
    pub grpc_tls_cert_file: Option<PathBuf>,
    /// The certificate's private key.
    #[arg(
        long = "grpc.tls-key-file",
        env = "TELLTALE_GRPC_TLS_KEY_FILE",
        requires_all = ["grpc_tls_ca_file", "grpc_tls_cert_file"]
    )]
    pub grpc_tls_key_file: Option<PathBuf>,
}

impl GrpcTlsArgs {
    /// The three files, when TLS is on.
    pub fn paths(&self) -> Option<telltale_storage_api::tls::TlsPaths> {
        Some(telltale_storage_api::tls::TlsPaths {
            ca: self.grpc_tls_ca_file.clone()?,
            cert: self.grpc_tls_cert_file.clone()?,
            key: self.grpc_tls_key_file.clone()?,
        })
    }

    /// Makes every gRPC client of the process use TLS with these files; fails when they
    /// cannot be used. Returns the paths for a server.
    pub fn install_client(&self) -> anyhow::Result<Option<telltale_storage_api::tls::TlsPaths>> {
        use telltale_storage_api::tls::{Source, client};
        let Some(paths) = self.paths() else {
            return Ok(None);
        };
        client::global()
            .set("process", Source::Files(paths.clone()))
            .map_err(|e| anyhow::anyhow!("--grpc.tls-*: {e}"))?;
        Ok(Some(paths))
    }
}

/// `NAME=VALUE`, NAME a valid Prometheus label name.
fn parse_label(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not NAME=VALUE"))?;
    if !telltale_model::is_valid_label_name(name) {
        return Err(format!("{name:?} is not a label name"));
    }
    Ok((name.to_string(), value.to_string()))
}

/// Alertmanager's limits on silences (standalone and alertmanager), under its flag names.
#[derive(Args, Debug, Clone)]
pub struct SilenceArgs {
    /// Most silences not yet expired; creating one more is refused (0: no limit).
    #[arg(long = "silences.max-silences", default_value_t = 0)]
    pub max_silences: usize,
    /// Largest silence, in bytes as stored (0: no limit).
    #[arg(long = "silences.max-silence-size-bytes", default_value_t = 0)]
    pub max_silence_size_bytes: usize,
}

impl SilenceArgs {
    pub fn limits(&self) -> telltale_alertmanager::SilenceLimits {
        telltale_alertmanager::SilenceLimits {
            max_silences: self.max_silences,
            max_silence_size_bytes: self.max_silence_size_bytes,
        }
    }
}

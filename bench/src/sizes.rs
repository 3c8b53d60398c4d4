//! The sizes of a run: issue 15's workload by default, tiny ones with `--quick`, each
//! overridable by its flag.

/// Sizes: each flag overrides the default (or `--quick`'s value).
#[derive(clap::Args, Debug)]
pub struct SizeArgs {
    #[arg(long)]
    repetitions: Option<usize>,
    /// Series pushed in parts 1, 2 and 5 (hosts of 100 series).
    #[arg(long)]
    series: Option<usize>,
    /// Points per series (one every --interval-s, ending at the run's start).
    #[arg(long)]
    points: Option<usize>,
    #[arg(long)]
    interval_s: Option<u64>,
    /// Samples per remote_write request.
    #[arg(long)]
    request_samples: Option<usize>,
    /// Concurrent remote_write senders.
    #[arg(long)]
    senders: Option<usize>,
    /// How far (in intervals of data) one sender may run ahead of the slowest.
    #[arg(long)]
    slack_steps: Option<usize>,
    /// Timed runs per query (after one warm-up run).
    #[arg(long)]
    query_runs: Option<usize>,
    #[arg(long)]
    query_step_s: Option<i64>,
    #[arg(long)]
    scrape_targets: Option<usize>,
    #[arg(long)]
    scrape_series: Option<usize>,
    #[arg(long)]
    scrape_interval_s: Option<u64>,
    #[arg(long)]
    scrape_warmup_s: Option<u64>,
    #[arg(long)]
    scrape_window_s: Option<u64>,
    #[arg(long)]
    disk_series: Option<usize>,
    /// Points per series in part 4 (at --interval-s; 8,640 = one day at 10 s).
    #[arg(long)]
    disk_points: Option<usize>,
    /// Pause after part 4's push before the data directory is measured and the server
    /// stopped (Prometheus compacts on a one-minute timer).
    #[arg(long)]
    disk_settle_s: Option<u64>,
    #[arg(long)]
    cluster_shards: Option<u32>,
    #[arg(long)]
    cluster_replicas: Option<u32>,
    /// Pause after each ingest before the queries (its CPU is reported).
    #[arg(long)]
    settle_s: Option<u64>,
    #[arg(long)]
    seed: Option<u64>,
    /// Series of the history part (hosts of 100 series; the storage benchmark's
    /// workload has 10,000).
    #[arg(long)]
    history_series: Option<usize>,
    /// Days of data the history part pushes (at --interval-s, ending at the run's start).
    #[arg(long)]
    history_days: Option<usize>,
    /// Timed runs per panel of the history part's dashboards (after the first run).
    #[arg(long)]
    history_query_runs: Option<usize>,
    /// Native histogram series of the histograms part (one in 100 a gauge histogram).
    #[arg(long)]
    histogram_series: Option<usize>,
    /// Samples per histogram series (at --histogram-interval-s, ending at the run's
    /// start; 5,760 = one day at 15 s).
    #[arg(long)]
    histogram_points: Option<usize>,
    #[arg(long)]
    histogram_interval_s: Option<u64>,
    /// Pause after the histograms part's push before the data directory is measured
    /// and the server stopped.
    #[arg(long)]
    histogram_settle_s: Option<u64>,
}

/// The sizes a run uses.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Sizes {
    pub repetitions: usize,
    pub series: usize,
    pub points: usize,
    pub interval_s: u64,
    pub request_samples: usize,
    pub senders: usize,
    pub slack_steps: usize,
    pub query_runs: usize,
    pub query_step_s: i64,
    pub scrape_targets: usize,
    pub scrape_series: usize,
    pub scrape_interval_s: u64,
    pub scrape_warmup_s: u64,
    pub scrape_window_s: u64,
    pub disk_series: usize,
    pub disk_points: usize,
    pub disk_settle_s: u64,
    pub cluster_shards: u32,
    pub cluster_replicas: u32,
    pub settle_s: u64,
    pub seed: u64,
    pub history_series: usize,
    pub history_days: usize,
    pub history_query_runs: usize,
    pub histogram_series: usize,
    pub histogram_points: usize,
    pub histogram_interval_s: u64,
    pub histogram_settle_s: u64,
}

impl Sizes {
    /// Issue 15's workload.
    fn full() -> Sizes {
        Sizes {
            repetitions: 2,
            series: 50_000,
            points: 360,
            interval_s: 10,
            request_samples: 2_000,
            senders: 4,
            slack_steps: 6,
            query_runs: 10,
            query_step_s: 15,
            scrape_targets: 100,
            scrape_series: 1_000,
            scrape_interval_s: 5,
            scrape_warmup_s: 30,
            scrape_window_s: 120,
            disk_series: 1_000,
            disk_points: 8_640,
            disk_settle_s: 70,
            cluster_shards: 2,
            cluster_replicas: 3,
            settle_s: 10,
            seed: 15,
            history_series: 300,
            history_days: 90,
            history_query_runs: 5,
            histogram_series: 1_000,
            histogram_points: 5_760,
            histogram_interval_s: 15,
            histogram_settle_s: 70,
        }
    }

    /// A smoke run of every part in about a minute.
    fn quick() -> Sizes {
        Sizes {
            repetitions: 1,
            series: 300,
            points: 60,
            request_samples: 200,
            query_runs: 3,
            scrape_targets: 3,
            scrape_series: 100,
            scrape_interval_s: 1,
            scrape_warmup_s: 4,
            scrape_window_s: 5,
            disk_series: 100,
            disk_points: 720,
            disk_settle_s: 2,
            settle_s: 1,
            history_series: 50,
            history_days: 8,
            history_query_runs: 2,
            histogram_series: 40,
            histogram_points: 240,
            histogram_settle_s: 2,
            ..Sizes::full()
        }
    }

    pub fn resolve(quick: bool, a: &SizeArgs) -> Sizes {
        let d = if quick { Sizes::quick() } else { Sizes::full() };
        Sizes {
            repetitions: a.repetitions.unwrap_or(d.repetitions),
            series: a.series.unwrap_or(d.series),
            points: a.points.unwrap_or(d.points),
            interval_s: a.interval_s.unwrap_or(d.interval_s),
            request_samples: a.request_samples.unwrap_or(d.request_samples),
            senders: a.senders.unwrap_or(d.senders),
            slack_steps: a.slack_steps.unwrap_or(d.slack_steps),
            query_runs: a.query_runs.unwrap_or(d.query_runs),
            query_step_s: a.query_step_s.unwrap_or(d.query_step_s),
            scrape_targets: a.scrape_targets.unwrap_or(d.scrape_targets),
            scrape_series: a.scrape_series.unwrap_or(d.scrape_series),
            scrape_interval_s: a.scrape_interval_s.unwrap_or(d.scrape_interval_s),
            scrape_warmup_s: a.scrape_warmup_s.unwrap_or(d.scrape_warmup_s),
            scrape_window_s: a.scrape_window_s.unwrap_or(d.scrape_window_s),
            disk_series: a.disk_series.unwrap_or(d.disk_series),
            disk_points: a.disk_points.unwrap_or(d.disk_points),
            disk_settle_s: a.disk_settle_s.unwrap_or(d.disk_settle_s),
            cluster_shards: a.cluster_shards.unwrap_or(d.cluster_shards),
            cluster_replicas: a.cluster_replicas.unwrap_or(d.cluster_replicas),
            settle_s: a.settle_s.unwrap_or(d.settle_s),
            seed: a.seed.unwrap_or(d.seed),
            history_series: a.history_series.unwrap_or(d.history_series),
            history_days: a.history_days.unwrap_or(d.history_days),
            history_query_runs: a.history_query_runs.unwrap_or(d.history_query_runs),
            histogram_series: a.histogram_series.unwrap_or(d.histogram_series),
            histogram_points: a.histogram_points.unwrap_or(d.histogram_points),
            histogram_interval_s: a.histogram_interval_s.unwrap_or(d.histogram_interval_s),
            histogram_settle_s: a.histogram_settle_s.unwrap_or(d.histogram_settle_s),
        }
    }
}

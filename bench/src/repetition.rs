//! One repetition: every chosen part for both servers, the server that goes first
//! alternating between repetitions; a part that fails is recorded and the next one runs.

use std::sync::Arc;

use crate::ingest::{self, Side};
use crate::queries::{self, Query, Range};
use crate::remote_write::Push;
use crate::report::Repetition;
use crate::{Part, Setup, cluster, disk, histograms, history, scrape};

/// What every repetition runs.
pub struct Plan {
    pub parts: Vec<Part>,
    /// Parts 1, 2 and 5's push, part 4's.
    pub push: Option<Arc<Push>>,
    pub disk_push: Option<Arc<Push>>,
    /// The histograms part's push.
    pub histogram_push: Option<histograms::HistogramPush>,
    pub queries: Vec<Query>,
    pub range: Range,
}

/// Runs repetition `r` (from 1).
pub async fn run(setup: &Setup, plan: &Plan, r: usize) -> Repetition {
    let has = |p| plan.parts.contains(&p);
    let (qs, range) = (&plan.queries, plan.range);
    let order = if r % 2 == 1 {
        [Side::Telltale, Side::Prometheus]
    } else {
        [Side::Prometheus, Side::Telltale]
    };
    let mut rep = Repetition {
        index: r,
        first: Some(order[0]),
        ..Default::default()
    };
    let tag = format!("r{r}");
    if let Some(push) = &plan.push {
        for side in order {
            if side == Side::Telltale && !has(Part::Ingest) && !has(Part::Query) {
                continue; // only Prometheus's figures, for the cluster's ratios
            }
            let own_queries = if has(Part::Query) || has(Part::Cluster) {
                &qs[..]
            } else {
                &[]
            };
            println!(
                "[{tag}] ingest{} {}",
                if own_queries.is_empty() {
                    ""
                } else {
                    " + queries"
                },
                side.name()
            );
            match ingest::run(
                setup,
                side,
                &format!("{tag}-ingest"),
                push,
                own_queries,
                range,
            )
            .await
            {
                Ok(out) => {
                    let f = &out.figures;
                    println!(
                        "  {} samples in {:.1} s, {:.2} CPU-s per million, peak RSS {:.0} MiB",
                        f.samples,
                        f.wall_s,
                        f.cpu_s_per_million,
                        f.vm_hwm_bytes as f64 / 1048576.0
                    );
                    if out.figures.send.failed > 0 {
                        rep.warnings.push(format!(
                            "{} refused {} of {} requests; first: {}",
                            side.name(),
                            out.figures.send.failed,
                            out.figures.send.requests,
                            out.figures.send.first_error.as_deref().unwrap_or("")
                        ));
                    }
                    rep.ingest.push(out.figures);
                    if !out.queries.is_empty() {
                        rep.queries.insert(side.name(), out.queries);
                    }
                }
                Err(e) => rep
                    .errors
                    .push(format!("ingest into {} failed: {e}", side.name())),
            }
        }
        compare_all(&mut rep, has(Part::Query));
        if has(Part::Cluster) {
            println!("[{tag}] dev-cluster ingest + queries");
            match cluster::run(setup, &format!("{tag}-cluster"), push, qs, range).await {
                Ok(c) => {
                    println!(
                        "  {:.1} s, replicas {:.2} + dev-cluster {:.2} CPU-s per million",
                        c.parent.wall_s, c.replicas_cpu_s_per_million, c.parent.cpu_s_per_million
                    );
                    if c.parent.send.failed > 0 {
                        rep.warnings.push(format!(
                            "dev-cluster refused {} requests; first: {}",
                            c.parent.send.failed,
                            c.parent.send.first_error.as_deref().unwrap_or("")
                        ));
                    }
                    if let Some(prom) = rep.queries.get(Side::Prometheus.name()) {
                        for (t, p) in c.queries.iter().zip(prom) {
                            let cmp = queries::compare(t, p, TOLERANCE);
                            warn_difference(&mut rep.warnings, "dev-cluster", &cmp);
                            rep.cluster_comparisons.push(cmp);
                        }
                    }
                    rep.cluster = Some(c);
                }
                Err(e) => rep.errors.push(format!("dev-cluster failed: {e}")),
            }
        }
    }
    if has(Part::Scrape) {
        println!("[{tag}] scrape");
        match scrape::run(setup, &format!("{tag}-scrape"), order).await {
            Ok(s) => {
                for f in &s {
                    println!(
                        "  {}: {} scrapes in {:.0} s, {:.2} CPU-s per million samples",
                        f.server.name(),
                        f.scrapes,
                        f.window_s,
                        f.cpu_s_per_million
                    );
                    if f.up_after.0 != f.up_after.1
                        || f.up_before.0 != f.up_before.1
                        || f.up_after.1 != f.targets
                    {
                        rep.warnings.push(format!(
                            "{}: targets up {:?} after the warm-up, {:?} after the window, of {}",
                            f.server.name(),
                            f.up_before,
                            f.up_after,
                            f.targets
                        ));
                    }
                }
                rep.scrape = s;
            }
            Err(e) => rep.errors.push(format!("scrape failed: {e}")),
        }
    }
    if let Some(disk_push) = &plan.disk_push {
        println!("[{tag}] disk");
        match disk::run(setup, &format!("{tag}-disk"), order, disk_push).await {
            Ok(d) => {
                for f in &d {
                    println!(
                        "  {}: {:.1} bytes per sample after the stop, {:.1} during (max)",
                        f.server.name(),
                        f.bytes_per_sample_after,
                        f.bytes_per_sample_during
                    );
                }
                for f in d.iter().filter(|f| f.send.failed > 0) {
                    rep.warnings.push(format!(
                        "disk: {} refused {} requests; first: {}",
                        f.server.name(),
                        f.send.failed,
                        f.send.first_error.as_deref().unwrap_or("")
                    ));
                }
                rep.disk = d;
            }
            Err(e) => rep.errors.push(format!("disk failed: {e}")),
        }
    }
    if let Some(hp) = &plan.histogram_push {
        match histograms::run(setup, &format!("{tag}-histograms"), order, hp).await {
            Ok(figures) => {
                let v = histograms::verdict(&figures);
                rep.warnings.extend(v.warnings);
                rep.notes.extend(v.notes);
                rep.histogram_comparisons = v.comparisons;
                rep.histograms = figures;
            }
            Err(e) => rep.errors.push(format!("histograms failed: {e}")),
        }
    }
    if has(Part::History) {
        println!("[{tag}] history (Telltale only)");
        match history::run(setup, &tag, &setup.moto).await {
            Ok(h) => {
                rep.warnings.extend(h.warnings.iter().cloned());
                rep.history = Some(h);
            }
            Err(e) => rep.errors.push(format!("history failed: {e}")),
        }
    }
    rep
}

/// Relative difference two servers' points may have (float sums in another order).
const TOLERANCE: f64 = 1e-6;

fn warn_difference(warnings: &mut Vec<String>, who: &str, c: &queries::Comparison) {
    if c.mismatches > 0 || c.series.0 != c.series.1 {
        warnings.push(format!(
            "{who} answers differ from Prometheus on {:?}: series {} vs {}, {} points differ; first: {}",
            c.name,
            c.series.0,
            c.series.1,
            c.mismatches,
            c.first_difference.as_deref().unwrap_or("-")
        ));
    }
}

/// Compares Telltale's answers with Prometheus's (when both ran the queries).
fn compare_all(rep: &mut Repetition, queried: bool) {
    let (Some(t), Some(p)) = (rep.queries.get("telltale"), rep.queries.get("prometheus")) else {
        return;
    };
    if !queried {
        return;
    }
    let comparisons: Vec<_> = t
        .iter()
        .zip(p)
        .map(|(t, p)| queries::compare(t, p, TOLERANCE))
        .collect();
    for c in &comparisons {
        warn_difference(&mut rep.warnings, "telltale", c);
    }
    rep.comparisons = comparisons;
}

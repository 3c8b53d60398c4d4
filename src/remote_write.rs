//! prometheus.yml's `remote_write` in standalone: everything written locally (scrapes,
//! pushes, recording rules and `ALERTS`) is also handed to one
//! [`RemoteWriteForwarder`] per section, each with its own durable queue under
//! `<data-dir>/remote_write/<remote name>`. The local write is acknowledged on its own:
//! a forwarder only appends to its queue (and never refuses), and its sender catches up
//! with the remote in the background.
//!
//! On a reload, sections whose remote name is unchanged keep their forwarder and queue;
//! removed or changed ones are closed (their queue directory stays, as Prometheus keeps
//! its WAL) and new ones opened.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use telltale_crds::prometheus::RemoteWriteConfig;
use telltale_scraper::{ForwarderOptions, RemoteWriteForwarder, remote_name};
use telltale_storage_api::{BatchId, Result, SampleWriter, SharedSample, TimeSeries, Written};

/// The forwarders of the current configuration.
pub struct Forwarding {
    dir: PathBuf,
    registry: prometheus::Registry,
    /// By remote name, with the section they were opened for.
    open: RwLock<BTreeMap<String, (RemoteWriteConfig, Arc<RemoteWriteForwarder>)>>,
}

impl Forwarding {
    /// No forwarders yet; queues go under `dir`.
    pub fn new(dir: PathBuf, registry: &prometheus::Registry) -> Arc<Self> {
        Arc::new(Forwarding {
            dir,
            registry: registry.clone(),
            open: RwLock::default(),
        })
    }

    /// Makes the forwarders those of `sections` (with `external_labels`): unchanged ones
    /// stay; removed or changed ones are closed first (a changed one reopens its queue
    /// under the same name), then new ones are opened. A section that cannot be opened
    /// fails the call; the others are applied.
    pub async fn apply(
        &self,
        sections: &[RemoteWriteConfig],
        external_labels: &BTreeMap<String, String>,
    ) -> anyhow::Result<()> {
        let stale: Vec<Arc<RemoteWriteForwarder>> = {
            let mut open = self.open.write().unwrap_or_else(|e| e.into_inner());
            let gone: Vec<String> = open
                .iter()
                .filter(|(name, (config, _))| {
                    !sections
                        .iter()
                        .any(|s| s == config && remote_name(s) == **name)
                })
                .map(|(name, _)| name.clone())
                .collect();
            gone.iter()
                .filter_map(|name| open.remove(name).map(|(_, f)| f))
                .collect()
        };
        for f in stale {
            close(f).await;
        }
        for section in sections {
            let name = remote_name(section);
            if self
                .open
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(&name)
            {
                continue;
            }
            let options = ForwarderOptions {
                external_labels: external_labels.clone(),
                ..ForwarderOptions::default()
            };
            let forwarder =
                RemoteWriteForwarder::open(section, self.dir.join(&name), options, &self.registry)
                    .await
                    .map_err(|e| anyhow::anyhow!("remote_write {name} ({}): {e}", section.url))?;
            tracing::info!(remote = %name, url = %section.url, "remote_write forwarding");
            self.open
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(name, (section.clone(), Arc::new(forwarder)));
        }
        Ok(())
    }

    /// Closes every forwarder (letting a send in flight finish).
    pub async fn close_all(&self) {
        let all = std::mem::take(&mut *self.open.write().unwrap_or_else(|e| e.into_inner()));
        for (_, (_, f)) in all {
            close(f).await;
        }
    }

    fn forwarders(&self) -> Vec<Arc<RemoteWriteForwarder>> {
        self.open
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|(_, f)| f.clone())
            .collect()
    }
}

/// Closes a forwarder taken out of the set once the writes still holding it are done
/// (each holds it for one write), so its queue and metrics are free to reopen.
async fn close(mut forwarder: Arc<RemoteWriteForwarder>) {
    loop {
        match Arc::try_unwrap(forwarder) {
            Ok(f) => return f.close().await,
            Err(shared) => {
                forwarder = shared;
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

/// A writer that writes locally and then hands what was written to the forwarders.
pub struct Tee {
    pub local: Arc<dyn SampleWriter>,
    pub forwarding: Arc<Forwarding>,
}

impl Tee {
    fn forwarding(&self) -> bool {
        !self
            .forwarding
            .open
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }
}

/// A forwarder refused what was written locally (only a write bigger than its whole
/// queue): logged, never the writer's error.
fn queued(f: &RemoteWriteForwarder, result: Result<u64>) {
    if let Err(e) = result {
        tracing::warn!(remote = %f.name(), error = %e, "cannot queue samples for remote_write");
    }
}

#[async_trait::async_trait]
impl SampleWriter for Tee {
    async fn write(&self, series: Vec<TimeSeries>) -> Result<u64> {
        if !self.forwarding() {
            return self.local.write(series).await;
        }
        self.write_borrowed(&series).await
    }

    async fn write_borrowed(&self, series: &[TimeSeries]) -> Result<u64> {
        let written = self.local.write_borrowed(series).await?;
        for f in self.forwarding.forwarders() {
            queued(&f, f.write_borrowed(series).await);
        }
        Ok(written)
    }

    /// The local write's count; a batch with exemplars or histograms is copied for the
    /// forwarders, one without is written as [`Self::write`] does.
    async fn write_counted(&self, series: Vec<TimeSeries>) -> Result<Written> {
        if !self.forwarding() {
            return self.local.write_counted(series).await;
        }
        if series
            .iter()
            .all(|s| s.exemplars.is_empty() && s.histograms.is_empty())
        {
            let samples = self.write_borrowed(&series).await?;
            return Ok(Written {
                samples,
                ..Written::default()
            });
        }
        let written = self.local.write_counted(series.clone()).await?;
        for f in self.forwarding.forwarders() {
            queued(&f, f.write_borrowed(&series).await);
        }
        Ok(written)
    }

    async fn write_identified(&self, series: Vec<TimeSeries>, id: BatchId) -> Result<u64> {
        if !self.forwarding() {
            return self.local.write_identified(series, id).await;
        }
        let written = self.local.write_identified(series.clone(), id).await?;
        for f in self.forwarding.forwarders() {
            queued(&f, f.write_borrowed(&series).await);
        }
        Ok(written)
    }

    async fn write_shared(&self, samples: &[SharedSample]) -> Result<u64> {
        let written = self.local.write_shared(samples).await?;
        for f in self.forwarding.forwarders() {
            queued(&f, f.write_shared(samples).await);
        }
        Ok(written)
    }
}

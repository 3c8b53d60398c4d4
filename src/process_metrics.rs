//! The `process_*` metrics every component exports, as Prometheus's Go client names
//! them: CPU seconds (with the kernel's tick resolution, not whole seconds, so that
//! `rate(process_cpu_seconds_total[1m])` of a mostly idle process is not 0), resident and
//! virtual memory, open and maximum file descriptors, threads and start time. Read from
//! `/proc/self` at each scrape.

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Counter, Gauge, Opts};

/// The collector; see the module documentation.
pub struct ProcessCollector {
    descs: Vec<Desc>,
    cpu: Counter,
    resident: Gauge,
    virtual_memory: Gauge,
    open_fds: Gauge,
    max_fds: Gauge,
    threads: Gauge,
    start_time: Gauge,
}

impl ProcessCollector {
    pub fn new() -> prometheus::Result<Self> {
        let cpu = Counter::with_opts(Opts::new(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
        ))?;
        let gauge = |name: &str, help: &str| Gauge::with_opts(Opts::new(name, help));
        let resident = gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
        )?;
        let virtual_memory = gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
        )?;
        let open_fds = gauge("process_open_fds", "Number of open file descriptors.")?;
        let max_fds = gauge(
            "process_max_fds",
            "Maximum number of open file descriptors.",
        )?;
        let threads = gauge("process_threads", "Number of OS threads in the process.")?;
        let start_time = gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
        )?;
        let mut descs = Vec::new();
        for c in [
            &resident,
            &virtual_memory,
            &open_fds,
            &max_fds,
            &threads,
            &start_time,
        ] {
            descs.extend(c.desc().into_iter().cloned());
        }
        descs.extend(cpu.desc().into_iter().cloned());
        Ok(ProcessCollector {
            descs,
            cpu,
            resident,
            virtual_memory,
            open_fds,
            max_fds,
            threads,
            start_time,
        })
    }

    /// Reads `/proc/self`; what cannot be read keeps its last value.
    fn update(&self) {
        let Ok(p) = procfs::process::Process::myself() else {
            return;
        };
        if let Ok(n) = p.fd_count() {
            self.open_fds.set(n as f64);
        }
        if let Ok(limits) = p.limits()
            && let procfs::process::LimitValue::Value(max) = limits.max_open_files.soft_limit
        {
            self.max_fds.set(max as f64);
        }
        let Ok(stat) = p.stat() else { return };
        let ticks = procfs::ticks_per_second() as f64;
        let cpu = (stat.utime + stat.stime) as f64 / ticks;
        // Two scrapes at once may both see the new value: add only what is missing.
        let past = self.cpu.get();
        if cpu > past {
            self.cpu.inc_by(cpu - past);
        }
        self.resident.set((stat.rss * procfs::page_size()) as f64);
        self.virtual_memory.set(stat.vsize as f64);
        self.threads.set(stat.num_threads as f64);
        if let Ok(boot) = procfs::boot_time_secs() {
            self.start_time
                .set(boot as f64 + stat.starttime as f64 / ticks);
        }
    }
}

impl Collector for ProcessCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.update();
        let mut out = self.cpu.collect();
        for g in [
            &self.open_fds,
            &self.max_fds,
            &self.virtual_memory,
            &self.resident,
            &self.start_time,
            &self.threads,
        ] {
            out.extend(g.collect());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(families: &[MetricFamily], name: &str) -> f64 {
        let f = families.iter().find(|f| f.name() == name).unwrap();
        let m = &f.get_metric()[0];
        if m.get_counter().has_value() {
            m.get_counter().value()
        } else {
            m.get_gauge().value()
        }
    }

    /// CPU time has the kernel tick's resolution: it grows by less than a second.
    #[test]
    fn cpu_seconds_are_fractional_and_grow() {
        let c = ProcessCollector::new().unwrap();
        let before = value(&c.collect(), "process_cpu_seconds_total");
        let t0 = std::time::Instant::now();
        let mut x = 0u64;
        while t0.elapsed() < std::time::Duration::from_millis(300) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let families = c.collect();
        let after = value(&families, "process_cpu_seconds_total");
        assert!(after > before, "{before} -> {after}");
        assert!(after - before < 1.0, "{before} -> {after}");
        assert!(after.fract() != 0.0 || before.fract() != 0.0);
        assert!(value(&families, "process_resident_memory_bytes") > 1e6);
        assert!(value(&families, "process_open_fds") >= 3.0);
        let start = value(&families, "process_start_time_seconds");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(
            start > now - 3600.0 && start <= now + 1.0,
            "{start} vs {now}"
        );
    }
}

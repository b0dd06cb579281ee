//! The monitor's Prometheus metrics (`--metrics-addr`): redis_exporter's
//! `redis_sentinel_*` families, read at scrape time from the same core and
//! counters `INFO` and `SENTINEL MASTERS/CKQUORUM` read, plus Vigil's own
//! failover counts and durations.
//!
//! The failover figures come from the events the daemon already logs and
//! publishes (`+try-failover`, `-failover-abort-*`, `+switch-master`): the
//! core stays clock-free, and the daemon stamps the events with a
//! monotonic clock as they pass. They count the failovers *this* monitor
//! led (started with `+try-failover`); a switch learnt from a peer's
//! hello is not this monitor's failover and is not counted.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Instant;

use super::core::{Event, MasterEntry};
use super::daemon::Daemon;
use crate::util::metrics_http::{Exposition, Kind, Source};

/// Upper bounds (seconds) of the failover duration histogram: a healthy
/// failover takes a few seconds, a slow one up to the failover-timeout
/// (3 minutes by default).
const BUCKETS: [f64; 10] = [1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 180.0, 300.0];

/// A per-master gauge family: name, help, and how to read it.
type PerMaster = (&'static str, &'static str, fn(&MasterEntry) -> f64);

/// What the daemon learnt about this monitor's failovers, per master.
#[derive(Debug, Default)]
pub struct Failovers {
    /// When the running attempt for each master began.
    started: BTreeMap<String, Instant>,
    /// Per master: (completed, aborted).
    totals: BTreeMap<String, (u64, u64)>,
    /// Count of completed durations per bucket (not cumulative), the last
    /// slot for those above every bound.
    buckets: [u64; BUCKETS.len() + 1],
    sum_secs: f64,
    count: u64,
}

impl Failovers {
    /// Record one event the core emitted, at `now`.
    pub fn observe(&mut self, e: &Event, now: Instant) {
        let Some(master) = &e.master else { return };
        if e.name == "+try-failover" {
            self.started.insert(master.clone(), now);
        } else if e.name.starts_with("-failover-abort-") {
            if self.started.remove(master).is_some() {
                self.totals.entry(master.clone()).or_default().1 += 1;
            }
        } else if e.name == "+switch-master" {
            if let Some(start) = self.started.remove(master) {
                self.totals.entry(master.clone()).or_default().0 += 1;
                let secs = now.duration_since(start).as_secs_f64();
                let slot = BUCKETS
                    .iter()
                    .position(|b| secs <= *b)
                    .unwrap_or(BUCKETS.len());
                self.buckets[slot] += 1;
                self.sum_secs += secs;
                self.count += 1;
            }
        }
    }
}

/// The metrics source of a running monitor.
pub struct Metrics {
    pub daemon: Rc<Daemon>,
    pub failovers: Rc<RefCell<Failovers>>,
}

impl Source for Metrics {
    /// The monitor is serving as long as its event loop answers: this
    /// endpoint runs on that loop, and is started after the command
    /// listeners are bound.
    fn healthy(&self) -> bool {
        true
    }

    fn metrics(&self) -> String {
        let mut x = Exposition::default();
        let d = &self.daemon;
        let endpoint = &d.endpoint;
        x.single(
            "redis_up",
            Kind::Gauge,
            "Information about the Redis instance",
            1.0,
        );
        x.single(
            "redis_uptime_in_seconds",
            Kind::Gauge,
            "uptime_in_seconds metric",
            endpoint.process.started.elapsed().as_secs() as f64,
        );
        x.single(
            "redis_connected_clients",
            Kind::Gauge,
            "connected_clients metric",
            endpoint.clients.borrow().len() as f64,
        );
        x.single(
            "redis_commands_processed_total",
            Kind::Counter,
            "total_commands_processed metric",
            endpoint.stats.borrow().total_commands_processed as f64,
        );
        self.sentinel(&mut x);
        self.failover_figures(&mut x);
        x.finish()
    }
}

impl Metrics {
    /// redis_exporter's sentinel families, from the core.
    fn sentinel(&self, x: &mut Exposition) {
        let core = self.daemon.links.core.borrow();
        let (running, queued) = self.daemon.scripts.counts();
        x.single(
            "redis_sentinel_masters",
            Kind::Gauge,
            "sentinel_masters metric",
            core.masters.len() as f64,
        );
        x.single(
            "redis_sentinel_tilt",
            Kind::Gauge,
            "sentinel_tilt metric",
            core.in_tilt() as u8 as f64,
        );
        x.single(
            "redis_sentinel_running_scripts",
            Kind::Gauge,
            "sentinel_running_scripts metric",
            running as f64,
        );
        x.single(
            "redis_sentinel_scripts_queue_length",
            Kind::Gauge,
            "sentinel_scripts_queue_length metric",
            queued as f64,
        );
        x.single(
            "redis_sentinel_simulate_failure_flags",
            Kind::Gauge,
            "sentinel_simulate_failure_flags metric",
            core.simulate_failure as f64,
        );

        // Per master. The address is the current one, as in INFO's
        // `masterN:...address=` line that redis_exporter reads.
        let masters: Vec<_> = core
            .masters
            .values()
            .map(|m| {
                (
                    m,
                    m.name.as_str(),
                    format!("{}:{}", m.inst.host, m.inst.port),
                )
            })
            .collect();
        // INFO's status word: odown before sdown before ok.
        let status = |m: &MasterEntry| {
            if m.odown_since_ms.is_some() {
                "odown"
            } else if m.inst.is_sdown() {
                "sdown"
            } else {
                "ok"
            }
        };
        x.family(
            "redis_sentinel_master_status",
            Kind::Gauge,
            "Master status on Sentinel",
        );
        for (m, name, addr) in &masters {
            let s = status(m);
            x.sample(
                "redis_sentinel_master_status",
                &[
                    ("master_name", name),
                    ("master_address", addr),
                    ("master_status", s),
                ],
                (s == "ok") as u8 as f64,
            );
        }
        let per_master: [PerMaster; 9] = [
            (
                "redis_sentinel_master_slaves",
                "The number of slaves of the master",
                |m| m.replicas.len() as f64,
            ),
            (
                "redis_sentinel_master_sentinels",
                "The number of sentinels monitoring this master",
                |m| (m.sentinels.len() + 1) as f64,
            ),
            (
                "redis_sentinel_master_ok_slaves",
                "The number of okay slaves of the master",
                |m| m.replicas.values().filter(|r| !r.is_sdown()).count() as f64,
            ),
            (
                "redis_sentinel_master_ok_sentinels",
                "The number of okay sentinels monitoring this master (this one included)",
                |m| (1 + m.sentinels.values().filter(|s| !s.is_sdown()).count()) as f64,
            ),
            (
                "redis_sentinel_master_setting_ckquorum",
                "Show the current ckquorum config for each master",
                |m| m.quorum as f64,
            ),
            (
                "redis_sentinel_master_setting_failover_timeout",
                "Show the current failover-timeout config for each master",
                |m| m.failover_timeout_ms as f64,
            ),
            (
                "redis_sentinel_master_setting_parallel_syncs",
                "Show the current parallel-syncs config for each master",
                |m| m.parallel_syncs as f64,
            ),
            (
                "redis_sentinel_master_setting_down_after_milliseconds",
                "Show the current down-after-milliseconds config for each master",
                |m| m.down_after_ms as f64,
            ),
            (
                "redis_sentinel_master_config_epoch",
                "Get the config epoch for each master",
                |m| m.config_epoch as f64,
            ),
        ];
        for (family, help, value) in per_master {
            x.family(family, Kind::Gauge, help);
            for (m, name, addr) in &masters {
                x.sample(
                    family,
                    &[("master_name", name), ("master_address", addr)],
                    value(m),
                );
            }
        }
        x.family(
            "redis_sentinel_master_ckquorum_status",
            Kind::Gauge,
            "Master ckquorum status",
        );
        for (m, name, _) in &masters {
            let (ok, message) = match m.ckquorum() {
                Ok(text) => (1.0, text),
                Err(text) => (0.0, text),
            };
            x.sample(
                "redis_sentinel_master_ckquorum_status",
                &[("master_name", name), ("message", &message)],
                ok,
            );
        }
    }

    /// Vigil's own: failovers this monitor led, and how long they took.
    fn failover_figures(&self, x: &mut Exposition) {
        let f = self.failovers.borrow();
        x.family(
            "vigil_sentinel_failovers_total",
            Kind::Counter,
            "Failovers this monitor led, by outcome (ok: +switch-master; aborted: -failover-abort-*)",
        );
        for (master, (ok, aborted)) in &f.totals {
            for (result, n) in [("ok", ok), ("aborted", aborted)] {
                x.sample(
                    "vigil_sentinel_failovers_total",
                    &[("master_name", master), ("result", result)],
                    *n as f64,
                );
            }
        }
        let name = "vigil_sentinel_failover_duration_seconds";
        x.family(
            name,
            Kind::Histogram,
            "Time from +try-failover to +switch-master of the failovers this monitor completed",
        );
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += f.buckets[i];
            x.sample(
                &format!("{name}_bucket"),
                &[("le", &bound.to_string())],
                cumulative as f64,
            );
        }
        x.sample(&format!("{name}_bucket"), &[("le", "+Inf")], f.count as f64);
        x.sample(&format!("{name}_sum"), &[], f.sum_secs);
        x.sample(&format!("{name}_count"), &[], f.count as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn event(name: &'static str) -> Event {
        Event {
            name,
            payload: String::new(),
            master: Some("mymaster".into()),
        }
    }

    #[test]
    fn failovers_count_outcomes_and_time_from_try_to_switch() {
        let mut f = Failovers::default();
        let t0 = Instant::now();
        f.observe(&event("+try-failover"), t0);
        f.observe(&event("-failover-abort-not-elected"), t0);
        f.observe(&event("+try-failover"), t0);
        f.observe(&event("+switch-master"), t0 + Duration::from_millis(3500));
        // A switch this monitor did not start is a peer's failover.
        f.observe(&event("+switch-master"), t0);
        assert_eq!(f.totals["mymaster"], (1, 1));
        assert_eq!(f.count, 1);
        assert_eq!(f.buckets[2], 1, "3.5 s falls in the le=5 bucket");
        assert!((f.sum_secs - 3.5).abs() < 1e-9);
    }
}

//! What the monitor reads in a node's `INFO` (spec/sentinel.md 2.2): the
//! lines redis-sentinel matches, parsed the way it parses them.

/// A node's role as its INFO reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Master,
    Replica,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Replica => "slave",
        }
    }
}

/// The parts of an INFO reply the monitor acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InfoReport {
    pub run_id: Option<String>,
    pub role: Option<Role>,
    /// `slaveN:` lines of a master: (ip, port).
    pub replicas: Vec<(String, u16)>,
    /// `master_link_down_since_seconds` × 1000; 0 when absent (link up).
    pub master_link_down_since_ms: i64,
    // Read only after `role:slave`, as redis-sentinel does.
    pub master_host: Option<String>,
    pub master_port: Option<u16>,
    pub master_link_up: bool,
    pub priority: Option<i64>,
    pub repl_offset: Option<i64>,
    pub announced: Option<bool>,
}

/// Parse an INFO reply's text.
pub fn parse(text: &str) -> InfoReport {
    let mut r = InfoReport::default();
    let mut replica_lines = false;
    for line in text.split("\r\n").flat_map(|l| l.split('\n')) {
        if let Some(id) = line.strip_prefix("run_id:").and_then(|id| id.get(..40)) {
            r.run_id.get_or_insert_with(|| id.to_string());
        }
        if let Some(rest) = line.strip_prefix("slave") {
            if rest.starts_with(|c: char| c.is_ascii_digit()) {
                if let Some(addr) = replica_line(rest) {
                    r.replicas.push(addr);
                }
            }
        }
        if let Some(s) = line.strip_prefix("master_link_down_since_seconds:") {
            r.master_link_down_since_ms = s.trim().parse::<i64>().unwrap_or(0) * 1000;
        }
        match line {
            "role:master" => r.role = Some(Role::Master),
            "role:slave" => {
                r.role = Some(Role::Replica);
                replica_lines = true;
            }
            _ => {}
        }
        if !replica_lines {
            continue;
        }
        if let Some(h) = line.strip_prefix("master_host:") {
            r.master_host = Some(h.to_string());
        } else if let Some(p) = line.strip_prefix("master_port:") {
            r.master_port = p.trim().parse().ok();
        } else if let Some(s) = line.strip_prefix("master_link_status:") {
            r.master_link_up = s.eq_ignore_ascii_case("up");
        } else if let Some(p) = line.strip_prefix("slave_priority:") {
            r.priority = p.trim().parse().ok();
        } else if let Some(o) = line.strip_prefix("slave_repl_offset:") {
            r.repl_offset = o.trim().parse().ok();
        } else if let Some(a) = line.strip_prefix("replica_announced:") {
            r.announced = Some(a.trim() != "0");
        }
    }
    r
}

/// `N:ip=<ip>,port=<port>,...` or the legacy `N:<ip>,<port>,<state>`.
fn replica_line(rest: &str) -> Option<(String, u16)> {
    let (_, fields) = rest.split_once(':')?;
    if fields.contains("ip=") {
        let value = |key: &str| {
            let start = fields.find(key)? + key.len();
            let end = fields[start..]
                .find(',')
                .map_or(fields.len(), |e| start + e);
            Some(&fields[start..end])
        };
        let ip = value("ip=")?;
        let port = value("port=")?.parse().ok()?;
        return Some((ip.to_string(), port));
    }
    let mut parts = fields.split(',');
    let ip = parts.next()?;
    let port = parts.next()?.parse().ok()?;
    Some((ip.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_masters_and_a_replicas_replication_sections() {
        let master = "# Server\r\nrun_id:0123456789012345678901234567890123456789\r\n# Replication\r\nrole:master\r\nconnected_slaves:2\r\nslave0:ip=127.0.0.1,port=6381,state=online,offset=5660,lag=1\r\nslave1:ip=::1,port=6382,state=online,offset=5660,lag=1\r\nmaster_failover_state:no-failover\r\n";
        let r = parse(master);
        assert_eq!(r.role, Some(Role::Master));
        assert_eq!(
            r.run_id.as_deref(),
            Some("0123456789012345678901234567890123456789")
        );
        assert_eq!(
            r.replicas,
            vec![("127.0.0.1".into(), 6381), ("::1".into(), 6382)]
        );
        assert_eq!(r.master_link_down_since_ms, 0);

        let replica = "role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:6380\r\nmaster_link_status:down\r\nmaster_link_down_since_seconds:-1\r\nslave_priority:50\r\nslave_repl_offset:4463\r\nreplica_announced:0\r\n";
        let r = parse(replica);
        assert_eq!(r.role, Some(Role::Replica));
        assert_eq!(
            (r.master_host.as_deref(), r.master_port),
            (Some("127.0.0.1"), Some(6380))
        );
        assert!(!r.master_link_up);
        assert_eq!(r.master_link_down_since_ms, -1000);
        assert_eq!(
            (r.priority, r.repl_offset, r.announced),
            (Some(50), Some(4463), Some(false))
        );
        // Replica-only lines before `role:slave` are not read.
        assert_eq!(parse("slave_priority:7\r\nrole:master\r\n").priority, None);
        assert_eq!(
            parse("slave0:10.0.0.1,7000,online\r\n").replicas,
            vec![("10.0.0.1".into(), 7000)]
        );
    }
}

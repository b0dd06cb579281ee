//! How the monitor's events reach its log: once each, at INFO, with the
//! payload taken apart into fields.
//!
//! The payload text stays redis-sentinel's, so the text log reads like
//! its log and the pub/sub channels are unchanged. Log shippers get the
//! same line as fields (`--log-format json`): the event, the level
//! redis-sentinel would give it, the master's entry, and for the events
//! about an instance (redis-sentinel's `%@` form, `<role> <name> <ip>
//! <port> [@ <master> <ip> <port>] [detail]`) the role, name, address and
//! master address; `+switch-master` gives the old and new addresses.
//! Everything is logged at INFO, whatever redis-sentinel's level,
//! because a failover's events are its normal course, not warnings; the
//! Redis level is a field for those who filter on it.

use super::core::{Event, Level};

/// The fields of one event, borrowed from its payload.
#[derive(Debug, PartialEq, Eq)]
pub enum Fields<'a> {
    /// `<role> <name> <ip> <port> [@ <master> <ip> <port>] [detail]`.
    Instance {
        role: &'a str,
        name: &'a str,
        addr: String,
        master_addr: String,
        detail: &'a str,
    },
    /// `+switch-master <name> <old ip> <old port> <new ip> <new port>`.
    Switch { from: String, to: String },
    /// Anything else: the payload as it is.
    Other { detail: &'a str },
}

/// Takes `e`'s payload apart.
pub fn fields(e: &Event) -> Fields<'_> {
    let p = e.payload.as_str();
    if e.name == "+switch-master" {
        let t: Vec<&str> = p.split(' ').collect();
        if let [_, oip, oport, nip, nport] = t[..] {
            return Fields::Switch {
                from: addr(oip, oport),
                to: addr(nip, nport),
            };
        }
    }
    instance(p).unwrap_or(Fields::Other { detail: p })
}

fn instance(p: &str) -> Option<Fields<'_>> {
    let mut t = p.splitn(5, ' ');
    let role = t
        .next()
        .filter(|r| matches!(*r, "master" | "slave" | "sentinel"))?;
    let (name, ip, port) = (t.next()?, t.next()?, t.next()?);
    port.parse::<u16>().ok()?;
    let rest = t.next().unwrap_or("");
    let own = addr(ip, port);
    let (master_addr, detail) = match rest.strip_prefix("@ ") {
        Some(at) => {
            let mut m = at.splitn(4, ' ');
            let (_, mip, mport) = (m.next()?, m.next()?, m.next()?);
            (addr(mip, mport), m.next().unwrap_or(""))
        }
        None if role == "master" => (own.clone(), rest),
        None => (String::new(), rest),
    };
    Some(Fields::Instance {
        role,
        name,
        addr: own,
        master_addr,
        detail,
    })
}

/// `ip:port`, bracketing IPv6 addresses.
fn addr(ip: &str, port: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// The name of redis-sentinel's level, as its log shows it.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::Warning => "warning",
        Level::Notice => "notice",
        Level::Verbose => "verbose",
        Level::Debug => "debug",
    }
}

/// Logs `e` once: at DEBUG for redis-sentinel's debug-level events (they
/// are never published either), at INFO with its fields otherwise.
pub fn log(e: &Event) {
    let event = e.name;
    let level = Level::of(event);
    if level == Level::Debug {
        tracing::debug!(event, "{} {}", e.name, e.payload);
        return;
    }
    let level = level_name(level);
    let master = e.master.as_deref().unwrap_or("");
    match fields(e) {
        Fields::Instance {
            role,
            name,
            addr,
            master_addr,
            detail,
        } => tracing::info!(
            event,
            redis_level = level,
            master,
            role,
            instance = name,
            addr,
            master_addr,
            detail,
            "{} {}",
            e.name,
            e.payload
        ),
        Fields::Switch { from, to } => tracing::info!(
            event,
            redis_level = level,
            master,
            from,
            to,
            "{} {}",
            e.name,
            e.payload
        ),
        Fields::Other { detail } => tracing::info!(
            event,
            redis_level = level,
            master,
            detail,
            "{} {}",
            e.name,
            e.payload
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &'static str, payload: &str) -> Event {
        Event {
            name,
            payload: payload.to_string(),
            master: Some("mymaster".into()),
        }
    }

    #[test]
    fn a_master_event_names_the_master_as_instance_and_master() {
        let e = event("+odown", "master mymaster 127.0.0.1 6379 #quorum 2/2");
        assert_eq!(
            fields(&e),
            Fields::Instance {
                role: "master",
                name: "mymaster",
                addr: "127.0.0.1:6379".into(),
                master_addr: "127.0.0.1:6379".into(),
                detail: "#quorum 2/2",
            }
        );
    }

    #[test]
    fn a_replica_event_carries_its_master_address() {
        let e = event(
            "+selected-slave",
            "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379",
        );
        assert_eq!(
            fields(&e),
            Fields::Instance {
                role: "slave",
                name: "127.0.0.1:6380",
                addr: "127.0.0.1:6380".into(),
                master_addr: "127.0.0.1:6379".into(),
                detail: "",
            }
        );
        let e = event(
            "+role-change",
            "slave ::1:6380 ::1 6380 @ mymaster ::1 6379 new reported role is master",
        );
        let Fields::Instance {
            addr,
            master_addr,
            detail,
            ..
        } = fields(&e)
        else {
            panic!("an instance event");
        };
        assert_eq!(
            (addr.as_str(), master_addr.as_str(), detail),
            ("[::1]:6380", "[::1]:6379", "new reported role is master")
        );
    }

    #[test]
    fn switch_master_gives_both_addresses_and_the_rest_stays_text() {
        let e = event("+switch-master", "mymaster 127.0.0.1 6379 127.0.0.1 6380");
        assert_eq!(
            fields(&e),
            Fields::Switch {
                from: "127.0.0.1:6379".into(),
                to: "127.0.0.1:6380".into(),
            }
        );
        // A master named "master" is still a switch, not an instance.
        let e = event("+switch-master", "master 10.0.0.1 6379 10.0.0.2 6379");
        assert!(matches!(fields(&e), Fields::Switch { .. }));
        for (name, payload) in [("+new-epoch", "7"), ("+vote-for-leader", "abc 7")] {
            let e = event(name, payload);
            assert_eq!(fields(&e), Fields::Other { detail: payload });
        }
        // Not an address: not taken for an instance.
        let e = event("+tilt", "#tilt mode entered");
        assert_eq!(
            fields(&e),
            Fields::Other {
                detail: "#tilt mode entered"
            }
        );
    }
}

//! The monitor's command surface, sans I/O: a request's arguments in, the
//! reply out (RESP2 or RESP3, per the connection), answered from the core
//! exactly as redis-sentinel 7.0 answers (spec/sentinel.md 6). The network
//! endpoint parses requests, runs the core's actions (persisting first:
//! a vote must be durable before its reply leaves) and writes the reply.
//!
//! Here: PING, ROLE, PUBLISH (hellos), and the SENTINEL subcommands that
//! report (with Valkey's PRIMARY spellings); the ones that change the
//! monitor are in `admin`. Anything else gets Redis's unknown-command or
//! unknown-subcommand error.

use super::admin;
use super::core::hello::CHANNEL;
use super::core::report::LinkFacts;
use super::core::{Core, Input, Target};
use crate::resp::errors::{c_str, unknown_command, unknown_subcommand, wrong_arity};
use crate::resp::reply::Reply;

pub const NO_SUCH_MASTER: &[u8] = b"ERR No such master with that name";
const NOT_INTEGER: &[u8] = b"ERR value is not an integer or out of range";

/// A SENTINEL subcommand: its names (the first is redis-sentinel's, the
/// others Valkey's spellings) and arity counted from `SENTINEL`.
struct Sub {
    names: &'static [&'static str],
    arity: i32,
}

const SUBS: &[Sub] = &[
    sub(&["masters", "primaries"], 2),
    sub(&["master", "primary"], 3),
    sub(&["replicas", "slaves"], 3),
    sub(&["sentinels"], 3),
    sub(&["get-master-addr-by-name", "get-primary-addr-by-name"], 3),
    sub(&["is-master-down-by-addr", "is-primary-down-by-addr"], 6),
    sub(&["myid"], 2),
    sub(&["ckquorum"], 3),
    sub(&["reset"], 3),
    sub(&["flushconfig"], 2),
    sub(&["monitor"], 6),
    sub(&["remove"], 3),
    sub(&["set"], -5),
    sub(&["config"], -3),
    sub(&["info-cache"], -3),
    sub(&["pending-scripts"], 2),
    sub(&["debug"], -2),
    sub(&["simulate-failure"], -3),
    sub(&["help"], 2),
    sub(&["failover"], -3),
];

/// Whether `name` is a SENTINEL subcommand here, in any spelling
/// (Valkey's `PRIMARY` ones included).
pub fn is_sentinel_subcommand(name: &[u8]) -> bool {
    let asked = String::from_utf8_lossy(c_str(name)).to_ascii_lowercase();
    SUBS.iter().any(|s| s.names.contains(&asked.as_str()))
}

/// What commands need from the process around the core.
pub trait Host {
    /// Link facts of an instance, for the instance maps.
    fn link_facts(&self, t: &Target) -> LinkFacts;
    /// Save the state now; false if it could not be written.
    fn save(&self, core: &Core) -> bool;
    /// The notification and reconfiguration scripts queued or running.
    fn pending_scripts(&self) -> Vec<PendingScript>;
}

/// A script job, as `SENTINEL PENDING-SCRIPTS` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingScript {
    pub argv: Vec<String>,
    /// Running: its pid and ms since it started; else ms until it starts.
    pub running: Option<u32>,
    pub ms: i64,
    pub retry_num: u32,
}

const fn sub(names: &'static [&'static str], arity: i32) -> Sub {
    Sub { names, arity }
}

/// Run one command against the core at time `now`, writing its reply.
/// `links` tells the link facts of an instance for the instance maps.
pub fn execute(core: &mut Core, now: i64, argv: &[&[u8]], reply: &mut Reply, host: &dyn Host) {
    let name = String::from_utf8_lossy(c_str(argv[0])).to_ascii_lowercase();
    match name.as_str() {
        "ping" => match argv.len() {
            1 => reply.simple(b"PONG"),
            2 => reply.bulk(argv[1]),
            _ => reply.error(&wrong_arity("ping")),
        },
        "role" if argv.len() == 1 => {
            reply.array(2);
            reply.bulk(b"sentinel");
            reply.array(core.masters.len());
            for m in core.masters.keys() {
                reply.bulk(m.as_bytes());
            }
        }
        "role" => reply.error(&wrong_arity("role")),
        "publish" if argv.len() == 3 => {
            if argv[1] != CHANNEL.as_bytes() {
                reply.error(b"ERR Only HELLO messages are accepted by Sentinel instances.");
                return;
            }
            core.handle(
                now,
                Input::Hello(String::from_utf8_lossy(argv[2]).into_owned()),
            );
            reply.int(1);
        }
        "publish" => reply.error(&wrong_arity("publish")),
        "sentinel" if argv.len() >= 2 => sentinel(core, now, argv, reply, host),
        "sentinel" => reply.error(&wrong_arity("sentinel")),
        _ => reply.error(&unknown_command(argv)),
    }
}

fn sentinel(core: &mut Core, now: i64, argv: &[&[u8]], reply: &mut Reply, host: &dyn Host) {
    let asked = String::from_utf8_lossy(c_str(argv[1])).to_ascii_lowercase();
    let Some(sub) = SUBS.iter().find(|s| s.names.contains(&asked.as_str())) else {
        reply.error(&unknown_subcommand(argv[1], "sentinel"));
        return;
    };
    let argc = argv.len() as i32;
    if (sub.arity > 0 && argc != sub.arity) || (sub.arity < 0 && argc < -sub.arity) {
        reply.error(&wrong_arity(&format!("sentinel|{asked}")));
        return;
    }
    let arg = |i: usize| String::from_utf8_lossy(argv[i]).into_owned();
    match sub.names[0] {
        "masters" => {
            reply.array(core.masters.len());
            let names: Vec<String> = core.masters.keys().cloned().collect();
            for n in names {
                write_map(core, now, &Target::Master(n), reply, host);
            }
        }
        "master" => {
            let t = Target::Master(arg(2));
            if !core.masters.contains_key(t.master()) {
                reply.error(NO_SUCH_MASTER);
                return;
            }
            write_map(core, now, &t, reply, host);
        }
        "replicas" => {
            let Some(m) = core.masters.get(&arg(2)) else {
                reply.error(NO_SUCH_MASTER);
                return;
            };
            // Replicas that asked not to be announced stay hidden.
            let shown: Vec<Target> = m
                .replicas
                .iter()
                .filter(|(_, r)| r.announced)
                .map(|(n, _)| Target::Replica(m.name.clone(), n.clone()))
                .collect();
            reply.array(shown.len());
            for t in shown {
                write_map(core, now, &t, reply, host);
            }
        }
        "sentinels" => {
            let Some(m) = core.masters.get(&arg(2)) else {
                reply.error(NO_SUCH_MASTER);
                return;
            };
            let peers: Vec<Target> = m
                .sentinels
                .keys()
                .map(|id| Target::Sentinel(m.name.clone(), id.clone()))
                .collect();
            reply.array(peers.len());
            for t in peers {
                write_map(core, now, &t, reply, host);
            }
        }
        "get-master-addr-by-name" => match core.master_addr(&arg(2)) {
            Some((host, port)) => {
                reply.array(2);
                reply.bulk(host.as_bytes());
                reply.bulk_int(port as i64);
            }
            None => reply.null_array(),
        },
        "is-master-down-by-addr" => {
            let port = arg(3).parse::<u16>();
            let epoch = arg(4).parse::<u64>();
            let (Ok(port), Ok(epoch)) = (port, epoch) else {
                reply.error(NOT_INTEGER);
                return;
            };
            let (down, leader, leader_epoch) =
                core.is_master_down_by_addr(now, &arg(2), port, epoch, &arg(5));
            reply.array(3);
            reply.int(down as i64);
            reply.bulk(leader.as_bytes());
            reply.int(leader_epoch as i64);
        }
        "myid" => reply.bulk(core.id.myid.as_bytes()),
        "ckquorum" => {
            let Some(m) = core.masters.get(&arg(2)) else {
                reply.error(NO_SUCH_MASTER);
                return;
            };
            match m.ckquorum() {
                Ok(text) => reply.simple(text.as_bytes()),
                Err(text) => reply.error(text.as_bytes()),
            }
        }
        _ => admin::execute(core, now, sub.names[0], argv, reply, host),
    }
}

/// An instance map: a flat array of bulk strings (RESP2) or a map (RESP3).
fn write_map(core: &Core, now: i64, t: &Target, reply: &mut Reply, host: &dyn Host) {
    let fields = core
        .instance_map(now, t, host.link_facts(t))
        .unwrap_or_default();
    reply.map(fields.len());
    for (k, v) in fields {
        reply.bulk(k.as_bytes());
        reply.bulk(v.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentinel::core::Identity;

    /// A host with nothing around the core; saving always works.
    pub struct NoHost;

    impl Host for NoHost {
        fn link_facts(&self, _: &Target) -> LinkFacts {
            LinkFacts::default()
        }
        fn save(&self, _: &Core) -> bool {
            true
        }
        fn pending_scripts(&self) -> Vec<PendingScript> {
            Vec::new()
        }
    }

    fn core() -> Core {
        let mut c = Core::new(
            Identity {
                myid: "93c4beb551c0af6e56bc28bd95c34658b9584a4a".into(),
                port: 26999,
                announce_ip: None,
            },
            0,
        );
        c.monitor(0, "mymaster", "127.0.0.1", 7002, 2, 5000, 180_000, 1);
        c
    }

    fn run(c: &mut Core, line: &str, resp3: bool) -> String {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        let mut r = Reply::new();
        r.set_resp3(resp3);
        execute(c, 1000, &args, &mut r, &NoHost);
        String::from_utf8_lossy(r.bytes()).into_owned()
    }

    /// Replies captured from a real redis-sentinel 7.0.15 monitoring a
    /// master at 127.0.0.1:7002 with quorum 2 and no peers.
    #[test]
    fn replies_match_redis_sentinel() {
        let mut c = core();
        let cases = [
            ("PING", "+PONG\r\n"),
            ("ping hi", "$2\r\nhi\r\n"),
            ("PING a b", "-ERR wrong number of arguments for 'ping' command\r\n"),
            ("ROLE", "*2\r\n$8\r\nsentinel\r\n*1\r\n$8\r\nmymaster\r\n"),
            ("SENTINEL myid", "$40\r\n93c4beb551c0af6e56bc28bd95c34658b9584a4a\r\n"),
            ("SENTINEL get-master-addr-by-name mymaster", "*2\r\n$9\r\n127.0.0.1\r\n$4\r\n7002\r\n"),
            ("SENTINEL get-master-addr-by-name nosuch", "*-1\r\n"),
            ("SENTINEL is-master-down-by-addr 127.0.0.1 7002 0 *", "*3\r\n:0\r\n$1\r\n*\r\n:0\r\n"),
            ("SENTINEL is-master-down-by-addr 127.0.0.1 x 0 *", "-ERR value is not an integer or out of range\r\n"),
            ("SENTINEL is-master-down-by-addr 127.0.0.1 7002 y *", "-ERR value is not an integer or out of range\r\n"),
            ("SENTINEL", "-ERR wrong number of arguments for 'sentinel' command\r\n"),
            ("SENTINEL masters x", "-ERR wrong number of arguments for 'sentinel|masters' command\r\n"),
            ("SENTINEL bogus", "-ERR unknown subcommand 'bogus'. Try SENTINEL HELP.\r\n"),
            ("SENTINEL master nosuch", "-ERR No such master with that name\r\n"),
            ("SENTINEL replicas nosuch", "-ERR No such master with that name\r\n"),
            ("SENTINEL ckquorum nosuch", "-ERR No such master with that name\r\n"),
            ("SENTINEL ckquorum mymaster", "-NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the specified quorum for this master\r\n"),
            ("SENTINEL replicas mymaster", "*0\r\n"),
            ("SENTINEL sentinels mymaster", "*0\r\n"),
            ("publish foo bar", "-ERR Only HELLO messages are accepted by Sentinel instances.\r\n"),
            ("publish __sentinel__:hello x", ":1\r\n"),
            ("get x", "-ERR unknown command 'get', with args beginning with: 'x' \r\n"),
        ];
        for (line, want) in cases {
            assert_eq!(run(&mut c, line, false), want, "{line}");
        }
        assert_eq!(
            run(&mut c, "SENTINEL get-master-addr-by-name nosuch", true),
            "_\r\n"
        );
        // Valkey's spellings.
        assert_eq!(
            run(&mut c, "SENTINEL get-primary-addr-by-name mymaster", false),
            "*2\r\n$9\r\n127.0.0.1\r\n$4\r\n7002\r\n"
        );
    }

    #[test]
    /// redis-sentinel's twenty fields, then Vigil's reason.
    fn master_maps_have_twenty_fields_as_bulk_strings() {
        let mut c = core();
        let text = run(&mut c, "SENTINEL MASTER mymaster", false);
        assert!(text.starts_with("*42\r\n$4\r\nname\r\n$8\r\nmymaster\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n$4\r\n7002\r\n$5\r\nrunid\r\n$0\r\n\r\n$5\r\nflags\r\n$19\r\nmaster,disconnected\r\n"), "{text}");
        assert!(run(&mut c, "SENTINEL MASTER mymaster", true).starts_with("%21\r\n"));
        assert!(run(&mut c, "SENTINEL masters", false).starts_with("*1\r\n*42\r\n"));
        // A peer answers; CKQUORUM then passes.
        run(
            &mut c,
            &format!(
                "publish __sentinel__:hello 127.0.0.1,26998,{},0,mymaster,127.0.0.1,7002,0",
                "c".repeat(40)
            ),
            false,
        );
        assert_eq!(
            run(&mut c, "SENTINEL ckquorum mymaster", false),
            "+OK 2 usable Sentinels. Quorum and failover authorization can be reached\r\n"
        );
        assert!(run(&mut c, "SENTINEL sentinels mymaster", false).starts_with("*1\r\n*28\r\n"));
    }
}

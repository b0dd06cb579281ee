//! `CLIENT` on the monitor: every Redis 7.0 subcommand, answered as
//! redis-sentinel 7.0 answers them, over the registry of connections
//! (`clients`). The endpoint has already refused unknown subcommands and
//! wrong argument counts (`command_table`); errors come back as Redis's
//! exact texts. The line format and the parsing of KILL, LIST, PAUSE and
//! UNBLOCK arguments are shared with the node (`util::clients`).

use super::clients::{Clients, Tracking};
use crate::resp::errors::c_str;
use crate::resp::reply::Reply;
use crate::util::clients::{
    validate_name, KillCandidate, KillFilter, ListFilter, PauseRequest, UnblockRequest,
};

const SYNTAX: &[u8] = b"ERR syntax error";

fn is(arg: &[u8], option: &str) -> bool {
    c_str(arg).eq_ignore_ascii_case(option.as_bytes())
}

fn err(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

/// Run `CLIENT <sub> ...` for connection `me` at `now_ms`.
pub fn client(
    clients: &mut Clients,
    me: u64,
    now_ms: i64,
    argv: &[&[u8]],
    r: &mut Reply,
) -> Result<(), Vec<u8>> {
    let sub = String::from_utf8_lossy(c_str(argv[1])).to_ascii_lowercase();
    let Some(entry) = clients.get_mut(me) else {
        // Killed by a command earlier in the same batch.
        return Ok(());
    };
    match sub.as_str() {
        "id" => r.int(me as i64),
        "info" => {
            let mut out = String::new();
            entry.line(now_ms, &mut out);
            r.verbatim(out.as_bytes());
        }
        "list" => {
            let filter = ListFilter::parse(argv)?;
            let mut out = String::new();
            match filter {
                ListFilter::All => clients.iter().for_each(|e| e.line(now_ms, &mut out)),
                ListFilter::Type(kind) => clients
                    .iter()
                    .filter(|e| e.kind() == kind)
                    .for_each(|e| e.line(now_ms, &mut out)),
                ListFilter::Ids(ids) => {
                    for id in ids {
                        if let Some(e) = u64::try_from(id).ok().and_then(|id| clients.get(id)) {
                            e.line(now_ms, &mut out);
                        }
                    }
                }
            }
            r.verbatim(out.as_bytes());
        }
        "getname" => match &entry.name {
            Some(n) => r.bulk(n.as_bytes()),
            None => r.null(),
        },
        "setname" => {
            validate_name(argv[2]).map_err(err)?;
            entry.name =
                (!argv[2].is_empty()).then(|| String::from_utf8_lossy(argv[2]).into_owned());
            r.ok();
        }
        "kill" => kill(clients, me, argv, r)?,
        "pause" => {
            let asked = PauseRequest::parse(argv, now_ms)?;
            clients.pause(asked.writes_only, asked.end_ms, now_ms);
            r.ok();
        }
        "unpause" => {
            clients.unpause();
            r.ok();
        }
        "unblock" => {
            UnblockRequest::parse(argv)?;
            // No client of a monitor blocks in a command; one held by
            // CLIENT PAUSE cannot be unblocked (redis-sentinel 7.0.15
            // crashes here; later Redis answers 0, as we do).
            r.int(0);
        }
        "reply" => {
            let mode = argv[2];
            if is(mode, "on") {
                entry.reply_off = false;
                entry.reply_skip_next = false;
                r.ok();
            } else if is(mode, "off") {
                entry.reply_off = true;
            } else if is(mode, "skip") {
                if !entry.reply_off {
                    entry.reply_skip_next = true;
                }
            } else {
                return Err(SYNTAX.to_vec());
            }
        }
        "no-evict" => {
            if is(argv[2], "on") {
                entry.no_evict = true;
            } else if is(argv[2], "off") {
                entry.no_evict = false;
            } else {
                return Err(SYNTAX.to_vec());
            }
            r.ok();
        }
        "tracking" => tracking(clients, me, argv, r)?,
        "caching" => {
            let t = &mut entry.tracking;
            if !t.on {
                return Err(err("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"));
            }
            if is(argv[2], "yes") {
                if !t.optin {
                    return Err(err("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."));
                }
            } else if is(argv[2], "no") {
                if !t.optout {
                    return Err(err("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."));
                }
            } else {
                return Err(SYNTAX.to_vec());
            }
            t.caching = true;
            r.ok();
        }
        "getredir" => r.int(if entry.tracking.on {
            entry.tracking.redirect
        } else {
            -1
        }),
        "trackinginfo" => tracking_info(&entry.tracking, r),
        "help" => r.help("CLIENT", HELP),
        _ => unreachable!("the endpoint looked the subcommand up in the table"),
    }
    Ok(())
}

/// `CLIENT KILL <addr>` or `CLIENT KILL <filter> <value> ...`.
fn kill(clients: &mut Clients, me: u64, argv: &[&[u8]], r: &mut Reply) -> Result<(), Vec<u8>> {
    let filter = KillFilter::parse(argv, |user| user == b"default")?;
    let victims: Vec<u64> = clients
        .iter()
        .filter(|e| {
            filter.matches(&KillCandidate {
                id: e.id,
                addr: &e.addr,
                laddr: &e.laddr,
                kind: e.kind(),
                user: b"default",
                is_me: e.id == me,
            })
        })
        .map(|e| e.id)
        .collect();
    for &id in &victims {
        if id == me {
            if let Some(e) = clients.get_mut(me) {
                e.close_after_reply = true;
            }
        } else {
            clients.kill(id);
        }
    }
    if filter.old_form {
        if victims.is_empty() {
            return Err(err("ERR No such client"));
        }
        r.ok();
    } else {
        r.int(victims.len() as i64);
    }
    Ok(())
}

/// `CLIENT TRACKING on|off [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN]
/// [OPTOUT] [NOLOOP]`, with Redis's checks in Redis's order.
fn tracking(clients: &mut Clients, me: u64, argv: &[&[u8]], r: &mut Reply) -> Result<(), Vec<u8>> {
    let mut redirect = 0i64;
    let (mut bcast, mut optin, mut optout, mut noloop) = (false, false, false, false);
    let mut prefixes: Vec<&[u8]> = Vec::new();
    let mut j = 3;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        let opt = argv[j];
        if is(opt, "redirect") && more {
            j += 1;
            if redirect != 0 {
                return Err(err(
                    "ERR A client can only redirect to a single other client",
                ));
            }
            redirect = crate::util::num::parse_i64(argv[j])
                .ok_or(err("ERR value is not an integer or out of range"))?;
            if !u64::try_from(redirect).is_ok_and(|id| clients.contains(id)) {
                return Err(err("ERR The client ID you want redirect to does not exist"));
            }
        } else if is(opt, "bcast") {
            bcast = true;
        } else if is(opt, "optin") {
            optin = true;
        } else if is(opt, "optout") {
            optout = true;
        } else if is(opt, "noloop") {
            noloop = true;
        } else if is(opt, "prefix") && more {
            j += 1;
            prefixes.push(argv[j]);
        } else {
            return Err(SYNTAX.to_vec());
        }
        j += 1;
    }
    let Some(entry) = clients.get_mut(me) else {
        return Ok(());
    };
    let t = &mut entry.tracking;
    if is(argv[2], "on") {
        if !bcast && !prefixes.is_empty() {
            return Err(err("ERR PREFIX option requires BCAST mode to be enabled"));
        }
        if t.on && t.bcast != bcast {
            return Err(err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."));
        }
        if bcast && (optin || optout) {
            return Err(err("ERR OPTIN and OPTOUT are not compatible with BCAST"));
        }
        if optin && optout {
            return Err(err("ERR You can't specify both OPTIN mode and OPTOUT mode"));
        }
        if (optin && t.optout) || (optout && t.optin) {
            return Err(err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."));
        }
        if bcast {
            check_prefixes(&t.prefixes, &prefixes)?;
        }
        // Enabling (again) resets the modes and keeps the prefixes.
        let kept = std::mem::take(&mut t.prefixes);
        *t = Tracking {
            on: true,
            bcast,
            optin,
            optout,
            noloop,
            caching: false,
            redirect,
            prefixes: kept,
        };
        if bcast {
            if prefixes.is_empty() {
                t.prefixes.insert(Vec::new());
            }
            t.prefixes.extend(prefixes.iter().map(|p| p.to_vec()));
        }
    } else if is(argv[2], "off") {
        *t = Tracking::default();
    } else {
        return Err(SYNTAX.to_vec());
    }
    r.ok();
    Ok(())
}

/// Prefixes of one client must not overlap (one a prefix of another),
/// neither with those it has nor among the new ones.
fn check_prefixes(
    existing: &std::collections::BTreeSet<Vec<u8>>,
    new: &[&[u8]],
) -> Result<(), Vec<u8>> {
    let overlap = |a: &[u8], b: &[u8]| {
        let n = a.len().min(b.len());
        a[..n] == b[..n]
    };
    for (i, p) in new.iter().enumerate() {
        if let Some(old) = existing.iter().find(|old| overlap(old, p)) {
            let mut msg = b"ERR Prefix '".to_vec();
            msg.extend_from_slice(p);
            msg.extend_from_slice(b"' overlaps with an existing prefix '");
            msg.extend_from_slice(old);
            msg.extend_from_slice(b"'. Prefixes for a single client must not overlap.");
            return Err(msg);
        }
        if let Some(other) = new[i + 1..].iter().find(|q| overlap(p, q)) {
            let mut msg = b"ERR Prefix '".to_vec();
            msg.extend_from_slice(p);
            msg.extend_from_slice(b"' overlaps with another provided prefix '");
            msg.extend_from_slice(other);
            msg.extend_from_slice(b"'. Prefixes for a single client must not overlap.");
            return Err(msg);
        }
    }
    Ok(())
}

/// `CLIENT TRACKINGINFO`: flags (a set), redirect, prefixes.
fn tracking_info(t: &Tracking, r: &mut Reply) {
    let mut flags = vec![if t.on { "on" } else { "off" }];
    if t.bcast {
        flags.push("bcast");
    }
    if t.optin {
        flags.push("optin");
        if t.caching {
            flags.push("caching-yes");
        }
    }
    if t.optout {
        flags.push("optout");
        if t.caching {
            flags.push("caching-no");
        }
    }
    if t.noloop {
        flags.push("noloop");
    }
    r.map(3);
    r.bulk(b"flags");
    r.set(flags.len());
    for f in flags {
        r.bulk(f.as_bytes());
    }
    r.bulk(b"redirect");
    r.int(if t.on { t.redirect } else { -1 });
    r.bulk(b"prefixes");
    r.array(t.prefixes.len());
    for p in &t.prefixes {
        r.bulk(p);
    }
}

/// The lines of `CLIENT HELP`, as redis-sentinel 7.0.15 prints them.
const HELP: &[&str] = &[
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
];

#[cfg(test)]
mod tests {
    use super::*;

    struct World {
        clients: Clients,
        me: u64,
        other: u64,
    }

    impl World {
        fn new() -> World {
            let mut clients = Clients::default();
            let (me, _) =
                clients.register("127.0.0.1:40000".into(), "127.0.0.1:26379".into(), 9, 0);
            let (other, _) =
                clients.register("127.0.0.1:40001".into(), "127.0.0.1:26379".into(), 10, 0);
            World { clients, me, other }
        }

        fn run(&mut self, line: &str) -> String {
            self.run_as(line, false)
        }

        fn run_as(&mut self, line: &str, resp3: bool) -> String {
            let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
            let mut r = Reply::new();
            r.set_resp3(resp3);
            match client(&mut self.clients, self.me, 5_000, &args, &mut r) {
                Ok(()) => String::from_utf8_lossy(r.bytes()).into_owned(),
                Err(e) => format!("-{}\r\n", String::from_utf8_lossy(&e)),
            }
        }
    }

    #[test]
    fn names_are_set_checked_and_cleared() {
        let mut w = World::new();
        assert_eq!(w.run("CLIENT GETNAME"), "$-1\r\n");
        assert_eq!(w.run("CLIENT SETNAME foo"), "+OK\r\n");
        assert_eq!(w.run("CLIENT GETNAME"), "$3\r\nfoo\r\n");
        assert_eq!(
            w.run("CLIENT SETNAME a\tb"),
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
        );
        assert_eq!(w.run("CLIENT SETNAME "), "+OK\r\n");
        assert_eq!(w.run("CLIENT GETNAME"), "$-1\r\n");
    }

    #[test]
    fn list_and_info_are_verbatim_text() {
        let mut w = World::new();
        let list = w.run("CLIENT LIST");
        assert!(list.starts_with("$"), "{list}");
        assert_eq!(list.matches(" addr=").count(), 2, "{list}");
        let info = w.run_as("CLIENT INFO", true);
        assert!(
            info.starts_with("=") && info.contains("txt:id=1 "),
            "{info}"
        );
        assert_eq!(w.run("CLIENT LIST TYPE pubsub"), "$0\r\n\r\n");
        assert_eq!(
            w.run("CLIENT LIST TYPE foo"),
            "-ERR Unknown client type 'foo'\r\n"
        );
        assert_eq!(w.run("CLIENT LIST ID 7 8"), "$0\r\n\r\n");
    }

    #[test]
    fn kill_old_and_new_forms() {
        let mut w = World::new();
        assert_eq!(w.run("CLIENT KILL 1.2.3.4:5"), "-ERR No such client\r\n");
        assert_eq!(w.run("CLIENT KILL ID 1000"), ":0\r\n");
        // Skips the caller by default.
        assert_eq!(w.run("CLIENT KILL USER default"), ":1\r\n");
        assert!(!w.clients.contains(w.other));
        assert_eq!(w.run("CLIENT KILL 127.0.0.1:40000"), "+OK\r\n");
        assert!(w.clients.get(w.me).unwrap().close_after_reply);
    }

    #[test]
    fn reply_modes() {
        let mut w = World::new();
        assert_eq!(w.run("CLIENT REPLY SKIP"), "");
        assert!(w.clients.get(w.me).unwrap().reply_skip_next);
        assert_eq!(w.run("CLIENT REPLY OFF"), "");
        assert!(w.clients.get(w.me).unwrap().reply_off);
        assert_eq!(w.run("CLIENT REPLY ON"), "+OK\r\n");
        assert_eq!(w.run("CLIENT REPLY maybe"), "-ERR syntax error\r\n");
        assert_eq!(w.run("CLIENT NO-EVICT x"), "-ERR syntax error\r\n");
    }

    #[test]
    fn tracking_follows_redis_checks() {
        let mut w = World::new();
        assert_eq!(
            w.run("CLIENT TRACKINGINFO"),
            "*6\r\n$5\r\nflags\r\n*1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*0\r\n"
        );
        assert_eq!(
            w.run("CLIENT CACHING yes"),
            "-ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled\r\n"
        );
        assert_eq!(w.run("CLIENT TRACKING on OPTIN"), "+OK\r\n");
        assert_eq!(w.run("CLIENT CACHING yes"), "+OK\r\n");
        assert_eq!(
            w.run_as("CLIENT TRACKINGINFO", true),
            "%3\r\n$5\r\nflags\r\n~3\r\n$2\r\non\r\n$5\r\noptin\r\n$11\r\ncaching-yes\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*0\r\n"
        );
        assert_eq!(
            w.run("CLIENT TRACKING on OPTOUT"),
            "-ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.\r\n"
        );
        assert_eq!(w.run("CLIENT TRACKING off"), "+OK\r\n");
        assert_eq!(w.run("CLIENT GETREDIR"), ":-1\r\n");
        assert_eq!(
            w.run("CLIENT TRACKING on PREFIX a"),
            "-ERR PREFIX option requires BCAST mode to be enabled\r\n"
        );
        assert_eq!(w.run("CLIENT TRACKING on BCAST PREFIX a"), "+OK\r\n");
        assert_eq!(
            w.run("CLIENT TRACKING on BCAST PREFIX ab"),
            "-ERR Prefix 'ab' overlaps with an existing prefix 'a'. Prefixes for a single client must not overlap.\r\n"
        );
        assert_eq!(w.run("CLIENT TRACKING off"), "+OK\r\n");
        assert_eq!(
            w.run("CLIENT TRACKING on BCAST PREFIX b PREFIX bc"),
            "-ERR Prefix 'b' overlaps with another provided prefix 'bc'. Prefixes for a single client must not overlap.\r\n"
        );
        assert_eq!(
            w.run("CLIENT TRACKING on BCAST OPTIN"),
            "-ERR OPTIN and OPTOUT are not compatible with BCAST\r\n"
        );
        assert_eq!(
            w.run("CLIENT TRACKING on REDIRECT 99"),
            "-ERR The client ID you want redirect to does not exist\r\n"
        );
        assert_eq!(w.run("CLIENT TRACKING on REDIRECT 2"), "+OK\r\n");
        assert_eq!(w.run("CLIENT GETREDIR"), ":2\r\n");
        assert_eq!(
            w.run("CLIENT TRACKING on REDIRECT 2 REDIRECT 2"),
            "-ERR A client can only redirect to a single other client\r\n"
        );
        assert_eq!(
            w.run("CLIENT TRACKING on BCAST PREFIX"),
            "-ERR syntax error\r\n"
        );
    }

    #[test]
    fn help_is_redis_sentinels() {
        let mut w = World::new();
        let help = w.run("CLIENT HELP");
        assert!(help.starts_with("*48\r\n+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+CACHING (YES|NO)\r\n"));
        assert!(help.ends_with("+HELP\r\n+    Prints this help.\r\n"));
    }
}

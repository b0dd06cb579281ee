//! The monitor's network endpoint: clients (`redis-cli`, client libraries,
//! peer monitors) connect, send commands, and subscribe to the event
//! channels.
//!
//! A request is checked as Redis checks it, in Redis's order: unknown
//! command or subcommand and argument count against the command table
//! (`command_table`), then authentication, then the subscribed context,
//! then a `CLIENT PAUSE` (which holds the command back until the pause
//! ends). The connection-level commands live here — AUTH, HELLO,
//! (P)(UN)SUBSCRIBE, SHUTDOWN — and the others in their modules: INFO
//! (`info`), CLIENT (`client_cmd`), COMMAND (`command_table`), ACL
//! (`acl`), and PING, ROLE, PUBLISH, SENTINEL (`commands`).
//!
//! Each connection records what the others may see in the registry
//! (`clients`) and closes once its entry is gone (`CLIENT KILL`).
//!
//! Persist-before-reply: when a command made the core decide to persist
//! (a vote), the state is written before the reply leaves.

use std::cell::{Cell, RefCell};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch, Notify};

use super::acl::{self, AclLog};
use super::client_cmd;
use super::clients::{Clients, Entry, Pause, MAX_CLIENTS};
use super::command_table::{self, Lookup};
use super::commands;
use super::daemon::Daemon;
use super::info::{self, Process, Sources, Stats};
use crate::node::commands::flags;
use crate::resp::errors::{c_str, unknown_command, unknown_subcommand, wrong_arity};
use crate::resp::reply::Reply;
use crate::resp::request::{Limits, Parsed, RequestParser};
use crate::util::glob;

/// One event as published: channel (event name) and message.
pub type Published = (String, String);

/// What the endpoint keeps beyond single connections.
pub struct Endpoint {
    pub clients: RefCell<Clients>,
    pub stats: RefCell<Stats>,
    pub acl_log: RefCell<AclLog>,
    pub process: Process,
    /// The timer's current frequency (`INFO` `hz`).
    pub hz: Cell<u32>,
}

impl Endpoint {
    pub fn new(process: Process) -> Endpoint {
        Endpoint {
            clients: RefCell::new(Clients::default()),
            stats: RefCell::new(Stats::default()),
            acl_log: RefCell::new(AclLog::default()),
            process,
            hz: Cell::new(10),
        }
    }
}

fn unix_ms() -> i64 {
    crate::node::unix_ms()
}

/// Accept connections until the listener fails.
pub async fn serve(daemon: Rc<Daemon>, listener: TcpListener) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let ep = &daemon.endpoint;
        if ep.clients.borrow().len() >= MAX_CLIENTS {
            ep.stats.borrow_mut().rejected_connections += 1;
            let _ = stream.try_write(b"-ERR max number of clients reached\r\n");
            continue;
        }
        let _ = stream.set_nodelay(true);
        let laddr = stream
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let fd = stream.as_raw_fd() as i64;
        let (id, kill) = ep
            .clients
            .borrow_mut()
            .register(peer.to_string(), laddr, fd, unix_ms());
        ep.stats.borrow_mut().total_connections_received += 1;
        tokio::task::spawn_local(connection(daemon.clone(), stream, id, kill));
    }
}

/// A command held back by `CLIENT PAUSE`, run again when the pause allows.
struct Postponed {
    argv: Vec<Vec<u8>>,
    until_ms: i64,
}

/// A connection's own state (what others see is in its registry entry).
struct Session {
    id: u64,
    reply: Reply,
    authenticated: bool,
    postponed: Option<Postponed>,
    /// The running command's replies are pub/sub confirmations, pushed
    /// even under `CLIENT REPLY OFF|SKIP` (as Redis 7.0 pushes them).
    pushing: bool,
    close: bool,
}

async fn connection(daemon: Rc<Daemon>, mut stream: TcpStream, id: u64, kill: Rc<Notify>) {
    let mut events = daemon.events.subscribe();
    let mut pause = daemon.endpoint.clients.borrow().pause_changes();
    let mut s = Session {
        id,
        reply: Reply::new(),
        authenticated: daemon.requirepass.is_none(),
        postponed: None,
        pushing: false,
        close: false,
    };
    let mut parser = RequestParser::new();
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let held_until = s.postponed.as_ref().map(|p| p.until_ms);
        tokio::select! {
            read = stream.read(&mut chunk) => {
                let n = match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                {
                    let mut stats = daemon.endpoint.stats.borrow_mut();
                    stats.total_net_input_bytes += n as u64;
                    stats.total_reads_processed += 1;
                }
                buf.extend_from_slice(&chunk[..n]);
                with_entry(&daemon, id, |e| {
                    e.last_interaction_ms = unix_ms();
                    e.qbuf = buf.len();
                    e.qbuf_free = buf.capacity() - buf.len();
                });
                if s.postponed.is_none() {
                    let consumed = run_requests(&daemon, &mut s, &mut parser, &buf);
                    buf.drain(..consumed);
                }
                if buf.len() > 64 * 1024 * 1024 {
                    break;
                }
            }
            event = events.recv() => {
                match event {
                    Ok((channel, message)) => deliver(&daemon, &mut s, &channel, &message),
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
            _ = kill.notified() => break,
            _ = pause_over(&mut pause, held_until.unwrap_or(0)), if held_until.is_some() => {
                if let Some(p) = s.postponed.take() {
                    with_entry(&daemon, id, |e| e.postponed = false);
                    command(&daemon, &mut s, &p.argv);
                }
                if s.postponed.is_none() && !s.close {
                    let consumed = run_requests(&daemon, &mut s, &mut parser, &buf);
                    buf.drain(..consumed);
                }
            }
        }
        with_entry(&daemon, id, |e| {
            e.qbuf = buf.len();
            e.qbuf_free = buf.capacity() - buf.len();
            e.obl = s.reply.len();
            e.omem = if s.reply.is_empty() {
                0
            } else {
                s.reply.capacity()
            };
        });
        if !s.reply.is_empty() {
            let mut out = Vec::new();
            s.reply.swap_out(&mut out);
            if stream.write_all(&out).await.is_err() {
                break;
            }
            let mut stats = daemon.endpoint.stats.borrow_mut();
            stats.total_net_output_bytes += out.len() as u64;
            stats.total_writes_processed += 1;
        }
        with_entry(&daemon, id, |e| {
            e.obl = 0;
            e.omem = 0;
        });
        if s.close || !daemon.endpoint.clients.borrow().contains(id) {
            break;
        }
    }
    daemon.endpoint.clients.borrow_mut().remove(id);
}

/// Run `f` on the connection's registry entry, if it is still there.
fn with_entry(daemon: &Daemon, id: u64, f: impl FnOnce(&mut Entry)) {
    if let Some(e) = daemon.endpoint.clients.borrow_mut().get_mut(id) {
        f(e);
    }
}

/// Wait until the pause that holds a command back may have ended: its end
/// time passed, or someone changed the pause (UNPAUSE, a longer PAUSE).
async fn pause_over(changes: &mut watch::Receiver<Option<Pause>>, until_ms: i64) {
    let wait = Duration::from_millis((until_ms - unix_ms()).max(0) as u64);
    tokio::select! {
        _ = tokio::time::sleep(wait) => {}
        changed = changes.changed() => {
            if changed.is_err() {
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// Run every complete request in `buf`; returns the bytes consumed. Stops
/// at a command held back by a pause (it is consumed and kept aside).
fn run_requests(
    daemon: &Rc<Daemon>,
    s: &mut Session,
    parser: &mut RequestParser,
    buf: &[u8],
) -> usize {
    let mut pos = 0;
    while pos < buf.len() && !s.close && s.postponed.is_none() {
        let limits = Limits {
            max_bulk_len: Some(512 * 1024 * 1024),
            authenticated: s.authenticated,
        };
        match parser.parse(&buf[pos..], limits) {
            Parsed::Incomplete { .. } => break,
            Parsed::Skip { consumed, .. } => pos += consumed,
            Parsed::Error(e) => {
                s.reply.error(&e.text());
                daemon.endpoint.stats.borrow_mut().total_error_replies += 1;
                s.close = true;
                return buf.len();
            }
            Parsed::Multibulk { consumed } => {
                let argv: Vec<Vec<u8>> = parser
                    .spans()
                    .iter()
                    .map(|&(start, len)| buf[pos + start..pos + start + len].to_vec())
                    .collect();
                pos += consumed;
                command(daemon, s, &argv);
            }
            Parsed::Inline { consumed, args } => {
                pos += consumed;
                command(daemon, s, &args);
            }
        }
    }
    pos
}

/// Run one command and apply what follows every command: error counting,
/// `CLIENT REPLY OFF|SKIP`, the one-command span of `CLIENT CACHING`, and
/// closing after the reply when the client killed itself.
fn command(daemon: &Rc<Daemon>, s: &mut Session, argv: &[Vec<u8>]) {
    let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    let start = s.reply.len();
    s.pushing = false;
    dispatch(daemon, s, &args);
    if s.postponed.is_some() {
        return;
    }
    if s.reply.bytes().get(start) == Some(&b'-') {
        daemon.endpoint.stats.borrow_mut().total_error_replies += 1;
    }
    let keeps_caching = c_str(args[0]).eq_ignore_ascii_case(b"client");
    let mut clients = daemon.endpoint.clients.borrow_mut();
    let Some(e) = clients.get_mut(s.id) else {
        s.close = true;
        return;
    };
    if e.replies_suppressed() && !s.pushing {
        s.reply.truncate(start);
    }
    e.reply_skip = std::mem::take(&mut e.reply_skip_next);
    if !keeps_caching {
        e.tracking.caching = false;
    }
    e.argv_mem = 0;
    if e.close_after_reply {
        s.close = true;
    }
}

fn dispatch(daemon: &Rc<Daemon>, s: &mut Session, args: &[&[u8]]) {
    let now = unix_ms();
    let name = String::from_utf8_lossy(c_str(args[0])).to_ascii_lowercase();
    let found = if KNOWN.contains(&name.as_str()) {
        command_table::lookup(args)
    } else {
        Lookup::UnknownCommand
    };
    // Like Redis's `lastcmd`, set before the checks (NULL when unknown).
    let full_name = match found {
        Lookup::Command(c) => c.full_name.to_string(),
        Lookup::UnknownSubcommand if name == "sentinel" => format!(
            "sentinel|{}",
            String::from_utf8_lossy(c_str(args[1])).to_ascii_lowercase()
        ),
        _ => "NULL".to_string(),
    };
    with_entry(daemon, s.id, |e| {
        e.cmd = full_name.clone();
        e.argv_mem = args.iter().map(|a| a.len()).sum();
    });
    // Unknown commands and subcommands, then argument counts.
    let cmd = match found {
        Lookup::UnknownCommand => {
            s.reply.error(&unknown_command(args));
            return;
        }
        // Valkey's spellings of SENTINEL subcommands: `commands` decides.
        Lookup::UnknownSubcommand
            if name == "sentinel" && commands::is_sentinel_subcommand(args[1]) =>
        {
            None
        }
        Lookup::UnknownSubcommand => {
            s.reply.error(&unknown_subcommand(args[1], &name));
            return;
        }
        Lookup::Command(c) if !c.arity_ok(args.len()) => {
            s.reply.error(&wrong_arity(c.full_name));
            return;
        }
        Lookup::Command(c) => Some(c),
    };
    if !s.authenticated && !cmd.is_some_and(|c| c.has(flags::NO_AUTH)) {
        s.reply.error(b"NOAUTH Authentication required.");
        return;
    }
    let subscribed = !s.reply.resp3()
        && daemon
            .endpoint
            .clients
            .borrow()
            .get(s.id)
            .is_some_and(|e| e.subscriptions() > 0);
    if subscribed
        && !matches!(
            name.as_str(),
            "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "ping"
        )
    {
        let err = format!("ERR Can't execute '{full_name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context");
        s.reply.error(err.as_bytes());
        return;
    }
    if let Some(c) = cmd {
        let held = daemon.endpoint.clients.borrow().held_until(c, now);
        if let Some(until_ms) = held {
            s.postponed = Some(Postponed {
                argv: args.iter().map(|a| a.to_vec()).collect(),
                until_ms,
            });
            with_entry(daemon, s.id, |e| e.postponed = true);
            return;
        }
    }
    run(daemon, s, &name, args, subscribed, now);
    daemon.endpoint.stats.borrow_mut().total_commands_processed += 1;
}

/// Run a command that passed the checks.
fn run(
    daemon: &Rc<Daemon>,
    s: &mut Session,
    name: &str,
    args: &[&[u8]],
    subscribed: bool,
    now: i64,
) {
    let ep = &daemon.endpoint;
    s.pushing = matches!(
        name,
        "subscribe" | "psubscribe" | "unsubscribe" | "punsubscribe"
    );
    match name {
        "auth" => auth(daemon, s, args, now),
        "hello" => hello(daemon, s, args, now),
        "subscribe" | "psubscribe" => {
            let mut clients = ep.clients.borrow_mut();
            let Some(e) = clients.get_mut(s.id) else {
                return;
            };
            for ch in &args[1..] {
                if name == "psubscribe" {
                    e.patterns.insert(ch.to_vec());
                } else {
                    e.channels.insert(ch.to_vec());
                }
                s.reply.push(3);
                s.reply.bulk(name.as_bytes());
                s.reply.bulk(ch);
                s.reply.int(e.subscriptions() as i64);
            }
        }
        "unsubscribe" | "punsubscribe" => {
            let mut clients = ep.clients.borrow_mut();
            let Some(e) = clients.get_mut(s.id) else {
                return;
            };
            let pattern = name == "punsubscribe";
            let listed: Vec<Vec<u8>> = if args.len() > 1 {
                args[1..].iter().map(|a| a.to_vec()).collect()
            } else if pattern {
                e.patterns.iter().cloned().collect()
            } else {
                e.channels.iter().cloned().collect()
            };
            if listed.is_empty() {
                s.reply.push(3);
                s.reply.bulk(name.as_bytes());
                s.reply.null();
                s.reply.int(e.subscriptions() as i64);
            }
            for ch in listed {
                if pattern {
                    e.patterns.remove(&ch);
                } else {
                    e.channels.remove(&ch);
                }
                s.reply.push(3);
                s.reply.bulk(name.as_bytes());
                s.reply.bulk(&ch);
                s.reply.int(e.subscriptions() as i64);
            }
        }
        "ping" if subscribed && args.len() <= 2 => {
            s.reply.array(2);
            s.reply.bulk(b"pong");
            s.reply.bulk(args.get(1).copied().unwrap_or(b""));
        }
        "shutdown" => shutdown(daemon, s, args),
        "info" => {
            let section = || {
                daemon
                    .links
                    .core
                    .borrow()
                    .info_section(now, daemon.scripts.counts())
            };
            let text = {
                let clients = ep.clients.borrow();
                let stats = ep.stats.borrow();
                let src = Sources {
                    process: &ep.process,
                    hz: ep.hz.get(),
                    clients: &clients,
                    stats: &stats,
                    sentinel_section: &section,
                };
                info::info(&args[1..], &src, now)
            };
            // A bulk string even in RESP3 (redis-sentinel's INFO is not
            // verbatim text, unlike redis-server's).
            s.reply.bulk(text.as_bytes());
        }
        "client" => {
            let done =
                client_cmd::client(&mut ep.clients.borrow_mut(), s.id, now, args, &mut s.reply);
            if let Err(e) = done {
                s.reply.error(&e);
            }
        }
        "command" => {
            if let Err(e) = command_table::command(args, &mut s.reply) {
                s.reply.error(e.text());
            }
        }
        "acl" => {
            let requirepass = daemon.requirepass.as_deref();
            let mut log = ep.acl_log.borrow_mut();
            if let Err(e) = acl::acl(args, requirepass, &mut log, now, &mut s.reply) {
                s.reply.error(&e);
            }
        }
        _ => {
            let actions = {
                let mut core = daemon.links.core.borrow_mut();
                commands::execute(&mut core, now, args, &mut s.reply, &DaemonHost(daemon));
                core.take_actions()
            };
            // Persist (a vote) happens here, before the reply is written.
            daemon.links.run_actions(actions);
        }
    }
}

/// The process around the core, as commands see it.
struct DaemonHost<'a>(&'a Daemon);

impl commands::Host for DaemonHost<'_> {
    fn link_facts(&self, t: &super::core::Target) -> super::core::report::LinkFacts {
        self.0.links.link_facts(t)
    }

    fn save(&self, core: &super::core::Core) -> bool {
        self.0.links.persist(core)
    }

    fn pending_scripts(&self) -> Vec<commands::PendingScript> {
        self.0.scripts.pending(crate::node::unix_ms())
    }
}

/// The commands this endpoint knows (others get the unknown-command
/// error): the names of `command_table::COMMANDS`.
const KNOWN: &[&str] = &[
    "ping",
    "info",
    "role",
    "sentinel",
    "publish",
    "subscribe",
    "unsubscribe",
    "psubscribe",
    "punsubscribe",
    "hello",
    "auth",
    "acl",
    "client",
    "command",
    "shutdown",
];

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] | ABORT`: a monitor has no
/// dataset to save; the state is persisted on the way out either way.
fn shutdown(daemon: &Daemon, s: &mut Session, args: &[&[u8]]) {
    for a in &args[1..] {
        let opt = String::from_utf8_lossy(c_str(a)).to_ascii_lowercase();
        match opt.as_str() {
            "nosave" | "save" | "now" | "force" => {}
            "abort" => {
                s.reply.error(b"ERR No shutdown in progress.");
                return;
            }
            _ => {
                s.reply.error(b"ERR syntax error");
                return;
            }
        }
    }
    daemon.shutdown();
    s.close = true;
}

/// Whether `user`/`pass` authenticate the only user, `default` (which
/// takes any password without `requirepass`).
fn credentials_ok(daemon: &Daemon, user: &[u8], pass: &[u8]) -> bool {
    user == b"default"
        && daemon
            .requirepass
            .as_deref()
            .is_none_or(|p| p.as_bytes() == pass)
}

/// Refuse an authentication and log it (`ACL LOG`), as Redis does.
fn auth_failed(daemon: &Daemon, s: &mut Session, object: &[u8], user: &[u8], now: i64) {
    let mut info = String::new();
    if let Some(e) = daemon.endpoint.clients.borrow().get(s.id) {
        e.line(now, &mut info);
    }
    daemon
        .endpoint
        .acl_log
        .borrow_mut()
        .auth_failed(object, user, &info, now);
    s.reply
        .error(b"WRONGPASS invalid username-password pair or user is disabled.");
}

/// `AUTH [username] password`.
fn auth(daemon: &Daemon, s: &mut Session, args: &[&[u8]], now: i64) {
    if args.len() > 3 {
        s.reply.error(b"ERR syntax error");
        return;
    }
    let (user, pass): (&[u8], &[u8]) = match args {
        [_, pass] => {
            if daemon.requirepass.is_none() {
                s.reply.error(b"ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
                return;
            }
            (b"default", pass)
        }
        [_, user, pass] => (user, pass),
        _ => unreachable!("arity checked against the table"),
    };
    if credentials_ok(daemon, user, pass) {
        s.authenticated = true;
        s.reply.ok();
    } else {
        auth_failed(daemon, s, args[0], user, now);
    }
}

/// `HELLO [protover [AUTH user pass] [SETNAME name]]`: the map redis-sentinel
/// answers (six fields, `mode` sentinel, no `role`).
fn hello(daemon: &Daemon, s: &mut Session, args: &[&[u8]], now: i64) {
    let mut version = None;
    if let Some(v) = args.get(1) {
        match crate::util::num::parse_i64(v) {
            Some(v @ (2 | 3)) => version = Some(v),
            Some(_) => {
                s.reply.error(b"NOPROTO unsupported protocol version");
                return;
            }
            None => {
                s.reply
                    .error(b"ERR Protocol version is not an integer or out of range");
                return;
            }
        }
    }
    let mut credentials = None;
    let mut name = None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if crate::node::commands::is(args[i], "auth") && more >= 2 {
            credentials = Some((args[i + 1], args[i + 2]));
            i += 3;
        } else if crate::node::commands::is(args[i], "setname") && more >= 1 {
            if let Err(e) = crate::util::clients::validate_name(args[i + 1]) {
                s.reply.error(e.as_bytes());
                return;
            }
            name = Some(args[i + 1]);
            i += 2;
        } else {
            let mut msg = b"ERR Syntax error in HELLO option '".to_vec();
            msg.extend_from_slice(args[i]);
            msg.push(b'\'');
            s.reply.error(&msg);
            return;
        }
    }
    if let Some((user, pass)) = credentials {
        if !credentials_ok(daemon, user, pass) {
            auth_failed(daemon, s, args[0], user, now);
            return;
        }
        s.authenticated = true;
    }
    if !s.authenticated {
        s.reply.error(b"NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        return;
    }
    if let Some(v) = version {
        s.reply.set_resp3(v == 3);
    }
    let resp3 = s.reply.resp3();
    with_entry(daemon, s.id, |e| {
        if let Some(n) = name {
            e.name = (!n.is_empty()).then(|| String::from_utf8_lossy(n).into_owned());
        }
        e.resp3 = resp3;
    });
    let r = &mut s.reply;
    r.map(6);
    r.bulk(b"server");
    r.bulk(b"redis");
    r.bulk(b"version");
    r.bulk(crate::node::REDIS_VERSION.as_bytes());
    r.bulk(b"proto");
    r.int(if resp3 { 3 } else { 2 });
    r.bulk(b"id");
    r.int(s.id as i64);
    r.bulk(b"mode");
    r.bulk(b"sentinel");
    r.bulk(b"modules");
    r.array(0);
}

/// An event to a subscriber of its channel or of a matching pattern (a
/// push: sent even under `CLIENT REPLY OFF`).
fn deliver(daemon: &Daemon, s: &mut Session, channel: &str, message: &str) {
    let clients = daemon.endpoint.clients.borrow();
    let Some(e) = clients.get(s.id) else {
        return;
    };
    if e.channels.contains(channel.as_bytes()) {
        s.reply.push(3);
        s.reply.bulk(b"message");
        s.reply.bulk(channel.as_bytes());
        s.reply.bulk(message.as_bytes());
    }
    for p in &e.patterns {
        if glob::matches(p, channel.as_bytes(), false) {
            s.reply.push(4);
            s.reply.bulk(b"pmessage");
            s.reply.bulk(p);
            s.reply.bulk(channel.as_bytes());
            s.reply.bulk(message.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_commands_are_the_tables() {
        let mut known: Vec<&str> = KNOWN.to_vec();
        let mut table: Vec<&str> = command_table::COMMANDS.iter().map(|c| c.name).collect();
        known.sort();
        table.sort();
        assert_eq!(known, table);
    }
}

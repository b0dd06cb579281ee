//! The monitor's network endpoint: clients (`redis-cli`, client libraries,
//! peer monitors) connect, send commands, and subscribe to the event
//! channels. Connection-level commands live here — AUTH, HELLO,
//! (P)(UN)SUBSCRIBE — the rest goes to `commands`.
//!
//! Persist-before-reply: when a command made the core decide to persist
//! (a vote), the state is written before the reply leaves.

use std::collections::BTreeSet;
use std::rc::Rc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

use super::commands;
use super::daemon::Daemon;
use crate::resp::errors::{c_str, wrong_arity};
use crate::resp::reply::Reply;
use crate::resp::request::{Limits, Parsed, RequestParser};
use crate::util::glob;

/// One event as published: channel (event name) and message.
pub type Published = (String, String);

/// Accept connections until the listener fails.
pub async fn serve(daemon: Rc<Daemon>, listener: TcpListener) {
    let mut next_id = 1u64;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let id = next_id;
        next_id += 1;
        tokio::task::spawn_local(connection(daemon.clone(), stream, id));
    }
}

struct Session {
    id: u64,
    reply: Reply,
    authenticated: bool,
    channels: BTreeSet<Vec<u8>>,
    patterns: BTreeSet<Vec<u8>>,
    close: bool,
}

impl Session {
    fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }
}

async fn connection(daemon: Rc<Daemon>, mut stream: TcpStream, id: u64) {
    let mut events = daemon.events.subscribe();
    let mut s = Session {
        id,
        reply: Reply::new(),
        authenticated: daemon.requirepass.is_none(),
        channels: BTreeSet::new(),
        patterns: BTreeSet::new(),
        close: false,
    };
    let mut parser = RequestParser::new();
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            read = stream.read(&mut chunk) => {
                let n = match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                let consumed = run_requests(&daemon, &mut s, &mut parser, &buf);
                buf.drain(..consumed);
                if buf.len() > 64 * 1024 * 1024 {
                    return;
                }
            }
            event = events.recv() => {
                match event {
                    Ok((channel, message)) => deliver(&mut s, &channel, &message),
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        }
        if !s.reply.is_empty() {
            let mut out = Vec::new();
            s.reply.swap_out(&mut out);
            if stream.write_all(&out).await.is_err() {
                return;
            }
        }
        if s.close {
            return;
        }
    }
}

/// Run every complete request in `buf`; returns the bytes consumed.
fn run_requests(
    daemon: &Rc<Daemon>,
    s: &mut Session,
    parser: &mut RequestParser,
    buf: &[u8],
) -> usize {
    let mut pos = 0;
    while pos < buf.len() && !s.close {
        let limits = Limits {
            max_bulk_len: Some(512 * 1024 * 1024),
            authenticated: s.authenticated,
        };
        match parser.parse(&buf[pos..], limits) {
            Parsed::Incomplete { .. } => break,
            Parsed::Skip { consumed, .. } => pos += consumed,
            Parsed::Error(e) => {
                s.reply.error(&e.text());
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

fn command(daemon: &Rc<Daemon>, s: &mut Session, argv: &[Vec<u8>]) {
    let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    let name = String::from_utf8_lossy(c_str(args[0])).to_ascii_lowercase();
    // As in Redis: an unknown command is refused before anything else.
    if !KNOWN.contains(&name.as_str()) {
        s.reply.error(&crate::resp::errors::unknown_command(&args));
        return;
    }
    if !s.authenticated && !matches!(name.as_str(), "auth" | "hello") {
        s.reply.error(b"NOAUTH Authentication required.");
        return;
    }
    let subscribed = !s.reply.resp3() && s.subscriptions() > 0;
    if subscribed
        && !matches!(
            name.as_str(),
            "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "ping"
        )
    {
        let full = match (name.as_str(), args.get(1)) {
            ("sentinel", Some(sub)) => format!(
                "sentinel|{}",
                String::from_utf8_lossy(c_str(sub)).to_ascii_lowercase()
            ),
            _ => name.clone(),
        };
        let err = format!("ERR Can't execute '{full}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context");
        s.reply.error(err.as_bytes());
        return;
    }
    match name.as_str() {
        "auth" => auth(daemon, s, &args),
        "hello" => hello(daemon, s, &args),
        "subscribe" | "psubscribe" if args.len() >= 2 => {
            let pattern = name == "psubscribe";
            for ch in &args[1..] {
                let set = if pattern {
                    &mut s.patterns
                } else {
                    &mut s.channels
                };
                set.insert(ch.to_vec());
                let count = s.subscriptions() as i64;
                s.reply.push(3);
                s.reply.bulk(name.as_bytes());
                s.reply.bulk(ch);
                s.reply.int(count);
            }
        }
        "unsubscribe" | "punsubscribe" => {
            let pattern = name == "punsubscribe";
            let listed: Vec<Vec<u8>> = if args.len() > 1 {
                args[1..].iter().map(|a| a.to_vec()).collect()
            } else if pattern {
                s.patterns.iter().cloned().collect()
            } else {
                s.channels.iter().cloned().collect()
            };
            if listed.is_empty() {
                s.reply.push(3);
                s.reply.bulk(name.as_bytes());
                s.reply.null();
                s.reply.int(s.subscriptions() as i64);
            }
            for ch in listed {
                let set = if pattern {
                    &mut s.patterns
                } else {
                    &mut s.channels
                };
                set.remove(&ch);
                let count = s.subscriptions() as i64;
                s.reply.push(3);
                s.reply.bulk(name.as_bytes());
                s.reply.bulk(&ch);
                s.reply.int(count);
            }
        }
        "subscribe" | "psubscribe" => s.reply.error(&wrong_arity(&name)),
        "ping" if subscribed && args.len() <= 2 => {
            s.reply.array(2);
            s.reply.bulk(b"pong");
            s.reply.bulk(args.get(1).copied().unwrap_or(b""));
        }
        "shutdown" => shutdown(daemon, s, &args),
        _ => {
            let now = crate::node::unix_ms();
            let actions = {
                let mut core = daemon.links.core.borrow_mut();
                commands::execute(&mut core, now, &args, &mut s.reply, &DaemonHost(daemon));
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

/// The commands this endpoint knows (others get the unknown-command error).
const KNOWN: &[&str] = &[
    "ping",
    "role",
    "sentinel",
    "publish",
    "subscribe",
    "unsubscribe",
    "psubscribe",
    "punsubscribe",
    "hello",
    "auth",
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

fn auth(daemon: &Daemon, s: &mut Session, args: &[&[u8]]) {
    if !(2..=3).contains(&args.len()) {
        s.reply.error(&wrong_arity("auth"));
        return;
    }
    let expected = daemon.requirepass.as_deref().map(str::as_bytes);
    let ok = match args.len() {
        2 => {
            let Some(pass) = expected else {
                s.reply.error(b"ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
                return;
            };
            args[1] == pass
        }
        // The only user is `default`; without requirepass it needs no
        // password.
        _ => args[1] == b"default" && expected.is_none_or(|pass| args[2] == pass),
    };
    if ok {
        s.authenticated = true;
        s.reply.ok();
    } else {
        s.reply
            .error(b"WRONGPASS invalid username-password pair or user is disabled.");
    }
}

/// `HELLO [protover [AUTH user pass] [SETNAME name]]`: the map redis-sentinel
/// answers (six fields, `mode` sentinel, no `role`).
fn hello(daemon: &Daemon, s: &mut Session, args: &[&[u8]]) {
    let mut version = None;
    if let Some(v) = args.get(1) {
        match std::str::from_utf8(v)
            .ok()
            .and_then(|v| v.parse::<i64>().ok())
        {
            Some(2) => version = Some(2),
            Some(3) => version = Some(3),
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
    let mut i = 2;
    while i < args.len() {
        if crate::node::commands::is(args[i], "auth") && i + 2 < args.len() {
            let pass_ok = daemon.requirepass.as_deref().map(str::as_bytes) == Some(args[i + 2]);
            if !pass_ok {
                s.reply
                    .error(b"WRONGPASS invalid username-password pair or user is disabled.");
                return;
            }
            s.authenticated = true;
            i += 3;
        } else if crate::node::commands::is(args[i], "setname") && i + 1 < args.len() {
            i += 2;
        } else {
            let mut msg = b"ERR Syntax error in HELLO option '".to_vec();
            msg.extend_from_slice(args[i]);
            msg.push(b'\'');
            s.reply.error(&msg);
            return;
        }
    }
    if !s.authenticated {
        s.reply.error(b"NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        return;
    }
    if let Some(v) = version {
        s.reply.set_resp3(v == 3);
    }
    let r = &mut s.reply;
    r.map(6);
    r.bulk(b"server");
    r.bulk(b"redis");
    r.bulk(b"version");
    r.bulk(crate::node::REDIS_VERSION.as_bytes());
    r.bulk(b"proto");
    r.int(if r.resp3() { 3 } else { 2 });
    r.bulk(b"id");
    r.int(s.id as i64);
    r.bulk(b"mode");
    r.bulk(b"sentinel");
    r.bulk(b"modules");
    r.array(0);
}

/// An event to a subscriber of its channel or of a matching pattern.
fn deliver(s: &mut Session, channel: &str, message: &str) {
    if s.channels.contains(channel.as_bytes()) {
        s.reply.push(3);
        s.reply.bulk(b"message");
        s.reply.bulk(channel.as_bytes());
        s.reply.bulk(message.as_bytes());
    }
    for p in &s.patterns {
        if glob::matches(p, channel.as_bytes(), false) {
            s.reply.push(4);
            s.reply.bulk(b"pmessage");
            s.reply.bulk(p);
            s.reply.bulk(channel.as_bytes());
            s.reply.bulk(message.as_bytes());
        }
    }
}

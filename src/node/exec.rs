//! Running what clients send: parse every complete request in the input,
//! check each command as Redis does, run it, account for it.
//!
//! [`Node::process_input`] is the batch entry point (DESIGN principle 3): the
//! connection hands over everything it read, every complete command runs,
//! and all replies accumulate in the client's buffer for one write.
//!
//! [`Node::process_command`] applies Redis's pre-execution checks in Redis's
//! order (spec/node.md 2.1) — unknown command, arity, protected commands
//! (DEBUG and `enable-debug-command`), authentication, transaction
//! restrictions, pub/sub context, pause — then queues the
//! command (inside MULTI) or calls it. [`Node::call`] runs a handler and
//! does the bookkeeping every command shares: error replies and their
//! statistics, command statistics, propagation of the effect, MONITOR.

use std::time::Instant;

use crate::node::client::{Client, ClientId, HeldCommand, ReplyMode};
use crate::node::commands::{self, flags, CmdError, Command, Ctx, Propagation};
use crate::node::{unix_ms, Node};
use crate::resp::request::{Limits, Parsed};

/// What a batch did with the input it was given.
#[derive(Debug, Default, Clone, Copy)]
pub struct BatchOutcome {
    /// Bytes fully handled; the caller drops them from its buffer.
    pub consumed: usize,
    /// Buffer length that would complete the pending request, when known.
    pub needed: Option<usize>,
    /// A complete command is waiting (client paused or blocked): retry on
    /// wakeup.
    pub stalled: bool,
    /// The client is blocked (BLPOP...) until this Unix ms time, if any.
    pub block_deadline: Option<i64>,
}

/// Whether a command ran or must wait.
enum Flow {
    Continue,
    Stall,
}

impl Node {
    /// Run every complete request in `input` for client `id`.
    pub fn process_input(&mut self, id: ClientId, input: &[u8]) -> BatchOutcome {
        let mut outcome = BatchOutcome::default();
        let Some(mut client) = self.clients.take(id) else {
            outcome.consumed = input.len();
            return outcome;
        };
        let max_bulk = self.config.settings.proto_max_bulk_len as usize;
        let mut argv: Vec<&[u8]> = Vec::with_capacity(8);
        let mut pos = 0;
        // The hard limit caps the replies while the batch runs; the check
        // after it closes the client if they reached it.
        let limit = crate::node::pubsub::output_limit(&self.config.settings, &client);
        client.reply.set_limit(limit.cap());
        while pos < input.len() {
            if client.close_after_reply || client.close_asap {
                // Nothing after QUIT or a protocol error is executed.
                pos = input.len();
                break;
            }
            if let Some(state) = &client.blocked {
                // A blocked client's next commands wait for its reply.
                outcome.stalled = true;
                outcome.block_deadline = state.deadline_ms;
                break;
            }
            let limits = Limits {
                max_bulk_len: Some(max_bulk),
                authenticated: client.authenticated || !self.requires_auth(),
            };
            match client.parser.parse(&input[pos..], limits) {
                Parsed::Incomplete { needed } => {
                    outcome.needed = needed.map(|n| pos + n);
                    break;
                }
                Parsed::Skip { consumed, .. } => pos += consumed,
                Parsed::Error(e) => {
                    let text = e.text();
                    tracing::debug!(
                        "Protocol error ({}) from client id={} addr={}",
                        String::from_utf8_lossy(&text),
                        client.id,
                        client.addr
                    );
                    client.reply.error(&text);
                    self.stats.count_error(&text);
                    client.close_after_reply = true;
                    pos = input.len();
                    break;
                }
                Parsed::Multibulk { consumed } => {
                    argv.clear();
                    argv.extend(
                        client
                            .parser
                            .spans()
                            .iter()
                            .map(|&(s, l)| &input[pos + s..pos + s + l]),
                    );
                    if let Flow::Stall = self.process_command(&mut client, &argv) {
                        if let Some(held) = &mut client.held {
                            held.input_bytes = consumed;
                        }
                        outcome.stalled = true;
                        break;
                    }
                    if client.is_master {
                        // Applied: count it and pass the exact bytes on.
                        self.master_stream_applied(&input[pos..pos + consumed]);
                    }
                    pos += consumed;
                    if let Some(state) = &client.blocked {
                        outcome.stalled = true;
                        outcome.block_deadline = state.deadline_ms;
                        break;
                    }
                }
                Parsed::Inline { .. } if client.is_master => {
                    // A master only sends arrays: anything else means the
                    // stream is out of step. Drop the link and resync.
                    tracing::warn!(
                        "Protocol error from master: inline request in the replication stream"
                    );
                    client.close_asap = true;
                    pos = input.len();
                    break;
                }
                Parsed::Inline { consumed, args } => {
                    let inline: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                    if let Flow::Stall = self.process_command(&mut client, &inline) {
                        if let Some(held) = &mut client.held {
                            held.input_bytes = consumed;
                        }
                        outcome.stalled = true;
                        break;
                    }
                    pos += consumed;
                    if let Some(state) = &client.blocked {
                        outcome.stalled = true;
                        outcome.block_deadline = state.deadline_ms;
                        break;
                    }
                }
            }
        }
        outcome.consumed = pos;
        // Replies grew during the batch: apply this client's class limits
        // (the class may have changed: SUBSCRIBE).
        let limit = crate::node::pubsub::output_limit(&self.config.settings, &client);
        crate::node::pubsub::enforce_output_limit(&mut client, &limit, self.now_ms);
        client.reply.set_limit(usize::MAX);
        self.clients.put(client);
        self.after_acks();
        outcome
    }

    /// The pre-execution checks, then queue (MULTI) or call.
    fn process_command(&mut self, c: &mut Client, argv: &[&[u8]]) -> Flow {
        self.now_ms = unix_ms();
        // The last command (CLIENT LIST `cmd=`) is whatever the lookup
        // found, before any check, as Redis's `c->lastcmd`: NULL for an
        // unknown one, the command itself while it runs or is queued.
        let Some(mut cmd) = self.config.commands.lookup(argv[0]) else {
            c.last_command = "NULL";
            self.reject(c, None, unknown_command(argv));
            return Flow::Continue;
        };
        // A container named alone runs itself if its arity allows (COMMAND);
        // for the others the arity check below answers.
        if cmd.is_container() && argv.len() >= 2 {
            match cmd.subcommand(argv[1]) {
                Some(sub) => cmd = sub,
                None => {
                    c.last_command = "NULL";
                    let err = unknown_subcommand(argv[1], cmd.name);
                    self.reject(c, None, err);
                    return Flow::Continue;
                }
            }
        }
        c.last_command = cmd.full_name;
        if !cmd.arity_ok(argv.len()) {
            self.reject(c, Some(cmd), commands::wrong_arity(cmd.full_name));
            return Flow::Continue;
        }
        if cmd.has(flags::PROTECTED) {
            if let Some(err) = commands::debug::protected_refusal(self, c, cmd) {
                self.reject(c, Some(cmd), err);
                return Flow::Continue;
            }
        }
        // A password set after the client connected binds it; one removed
        // frees it (Redis checks the default user's current password).
        if !c.authenticated && self.requires_auth() && !cmd.has(flags::NO_AUTH) {
            self.reject(
                c,
                Some(cmd),
                CmdError::Static("NOAUTH Authentication required."),
            );
            return Flow::Continue;
        }
        if c.in_multi() && cmd.has(flags::NO_MULTI) {
            self.reject(
                c,
                Some(cmd),
                CmdError::Static("ERR Command not allowed inside a transaction"),
            );
            return Flow::Continue;
        }
        if self.config.settings.maxmemory > 0 && self.out_of_memory_refuses(c, cmd) {
            self.reject(c, Some(cmd), CmdError::Static(OOM));
            return Flow::Continue;
        }
        let obey = c.is_master || c.aof_loader;
        let write = is_write(&self.config.commands, c, cmd);
        if !obey && (write || cmd.name == "ping") {
            if self.writes_refused_by_save_error() {
                self.reject(c, Some(cmd), CmdError::Static(MISCONF_RDB));
                return Flow::Continue;
            }
            if let Some(refusal) = self.aof_write_refusal() {
                self.reject(c, Some(cmd), CmdError::msg(refusal));
                return Flow::Continue;
            }
        }
        if !obey && write && self.lacks_good_replicas() {
            self.reject(
                c,
                Some(cmd),
                CmdError::Static("NOREPLICAS Not enough good replicas to write."),
            );
            return Flow::Continue;
        }
        if !obey && write && self.repl.is_replica() && self.config.settings.replica_read_only {
            self.reject(
                c,
                Some(cmd),
                CmdError::Static("READONLY You can't write against a read only replica."),
            );
            return Flow::Continue;
        }
        if c.in_pubsub_context() && !allowed_in_pubsub_context(cmd) {
            let err = format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                cmd.full_name
            );
            self.reject(c, Some(cmd), CmdError::msg(err));
            return Flow::Continue;
        }
        if self.repl.is_replica()
            && !self.repl.link_up()
            && !self.config.settings.replica_serve_stale_data
            && !cmd.has(flags::STALE)
        {
            self.reject(
                c,
                Some(cmd),
                CmdError::Static("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."),
            );
            return Flow::Continue;
        }
        if self.loading.is_some() && !cmd.has(flags::LOADING) {
            self.reject(
                c,
                Some(cmd),
                CmdError::Static("LOADING Redis is loading the dataset in memory"),
            );
            return Flow::Continue;
        }
        if self.is_paused_for(c, cmd) {
            c.held = Some(HeldCommand {
                input_bytes: 0,
                argv_mem: argv.iter().map(|a| a.len()).sum(),
            });
            return Flow::Stall;
        }
        c.held = None;
        if c.in_multi() && !runs_inside_multi(cmd) {
            let multi = c.multi.as_mut().expect("in multi");
            multi.bytes += argv.iter().map(|a| a.len()).sum::<usize>();
            multi
                .commands
                .push(argv.iter().map(|a| a.to_vec()).collect());
            c.reply.simple(b"QUEUED");
            return Flow::Continue;
        }
        self.call(c, cmd, argv);
        // Keys the command created may serve blocked clients now that its
        // effects are out.
        self.serve_blocked_clients();
        Flow::Continue
    }

    /// Refuse a command before it runs. A refused EXEC discards the
    /// transaction and says why (Redis's `execCommandAbort`).
    fn reject(&mut self, c: &mut Client, cmd: Option<&'static Command>, err: CmdError) {
        if let Some(cmd) = cmd {
            self.stats.command(cmd.full_name).rejected_calls += 1;
        }
        if cmd.is_some_and(|cmd| cmd.name == "exec") && c.in_multi() {
            c.multi = None;
            c.dirty_cas = false;
            self.unwatch_all(c);
            let mut text = b"EXECABORT Transaction discarded because of: ".to_vec();
            text.extend_from_slice(err.text());
            c.reply.error(&text);
            self.stats.count_error(&text);
            return;
        }
        c.reply.error(err.text());
        self.stats.count_error(err.text());
        if let Some(multi) = c.multi.as_mut() {
            multi.aborted = true;
        }
    }

    /// Run one command and do the shared bookkeeping. Also used by EXEC for
    /// each queued command (`nested`).
    pub fn call(&mut self, c: &mut Client, cmd: &'static Command, argv: &[&[u8]]) {
        self.call_depth += 1;
        let reply_start = c.reply.len();
        let dirty_before = self.dirty;
        let started = Instant::now();

        let mut ctx = Ctx {
            node: self,
            client: c,
            argv,
            cmd,
            propagation: Propagation::Verbatim,
            forced: false,
        };
        let result = (cmd.handler)(&mut ctx);
        let propagation = std::mem::replace(&mut ctx.propagation, Propagation::Suppressed);
        let forced = ctx.forced;

        if !c.aof_loader {
            let elapsed = started.elapsed();
            self.account(c, cmd, elapsed, &result);
            self.log_if_slow(c, cmd, argv, elapsed);
        }
        if let Err(err) = result {
            c.reply.error(err.text());
        }

        if (self.dirty > dirty_before || forced) && self.effects.active() {
            match propagation {
                Propagation::Verbatim => {
                    let owned = argv.iter().map(|a| a.to_vec()).collect();
                    self.effects.also_propagate(c.db, owned);
                }
                Propagation::Rewritten(args) => self.effects.also_propagate(c.db, args),
                Propagation::Suppressed => {}
            }
        }
        if !self.monitors.is_empty()
            && !c.aof_loader
            && !cmd.has(flags::ADMIN | flags::SKIP_MONITOR)
            && !self.serving_blocked()
        {
            self.feed_monitors(c, argv);
        }

        // CLIENT REPLY OFF/SKIP: drop what this command wrote. The master
        // gets no replies, only the ACKs REPLCONF GETACK queues.
        if matches!(c.reply_mode, ReplyMode::Off | ReplyMode::Skip)
            || (c.is_master && cmd.name != "replconf")
        {
            c.reply.truncate(reply_start);
        }
        c.reply_mode = match c.reply_mode {
            ReplyMode::Skip => ReplyMode::On,
            ReplyMode::SkipNext => ReplyMode::Skip,
            other => other,
        };

        self.call_depth -= 1;
        if self.call_depth == 0 {
            self.effects.flush_pending();
            if self.effects.repl_pending() > 0 {
                self.flush_replication();
                // WAIT waits for what this client's last write reached.
                c.woff = self.repl.offset;
            }
        }
    }

    /// Statistics for one call: latency, command and error counts.
    fn account(
        &mut self,
        c: &mut Client,
        cmd: &'static Command,
        elapsed: std::time::Duration,
        result: &Result<(), CmdError>,
    ) {
        if self.config.settings.latency_tracking {
            self.stats
                .latency
                .entry(cmd.full_name)
                .or_default()
                .record(elapsed.as_nanos() as u64);
        }
        if let Err(err) = result {
            self.stats.count_error(err.text());
        }
        // A blocked client's command was counted when it blocked; serving
        // it adds the time it took and, if it failed then (BLMOVE into a
        // key that became another type), a failed call.
        let serving = self.serving_blocked();
        let stat = self.stats.command(cmd.full_name);
        stat.usec += elapsed.as_micros() as u64;
        if result.is_err() {
            stat.failed_calls += 1;
        }
        if !serving {
            stat.calls += 1;
            self.stats.total_commands_processed += 1;
        }
        c.last_command = cmd.full_name;
    }

    /// The latency monitor's `command` / `fast-command` events and the slow
    /// log (Redis's end of `call()`). Each command of a transaction is
    /// logged on its own, and so is the EXEC around them; a command that
    /// just blocked is logged when it is served, with the time it ran.
    fn log_if_slow(
        &mut self,
        c: &Client,
        cmd: &'static Command,
        argv: &[&[u8]],
        elapsed: std::time::Duration,
    ) {
        let duration_us = elapsed.as_micros() as u64;
        let event = if cmd.has(flags::FAST) {
            "fast-command"
        } else {
            "command"
        };
        // Reads the clock only for a spike: most commands cost nothing here.
        self.latency_sample(event, duration_us / 1000);
        let settings = &self.config.settings;
        let slower_than = settings.slowlog_log_slower_than;
        if slower_than < 0
            || duration_us < slower_than as u64
            || c.blocked.is_some()
            || cmd.has(flags::SKIP_SLOWLOG)
        {
            return;
        }
        self.slowlog.push_if_needed(
            slower_than,
            settings.slowlog_max_len,
            &redacted(argv),
            crate::node::slowlog::Caller {
                addr: &c.addr,
                name: c.name.as_deref(),
            },
            duration_us,
            // Stamped when the command ended, as Redis does.
            crate::node::unix_ms() / 1000,
        );
    }

    /// Whether `CLIENT PAUSE` holds this command back.
    fn is_paused_for(&self, c: &Client, cmd: &Command) -> bool {
        let failover = self.failover_pauses_writes() && !c.is_master;
        let client_pause = self.pause.filter(|p| self.now_ms < p.until_ms);
        if client_pause.is_some_and(|p| !p.writes_only) {
            return true;
        }
        if client_pause.is_none() && !failover {
            return false;
        }
        if cmd.has(flags::WRITE | flags::MAY_REPLICATE) {
            return true;
        }
        // EXEC of a transaction holding a write waits as a whole.
        cmd.name == "exec"
            && c.multi.as_ref().is_some_and(|m| {
                m.commands.iter().any(|argv| {
                    self.config
                        .commands
                        .lookup(&argv[0])
                        .is_some_and(|q| q.has(flags::WRITE | flags::MAY_REPLICATE))
                })
            })
    }

    /// Show a command to MONITOR clients.
    fn feed_monitors(&mut self, c: &Client, argv: &[&[u8]]) {
        let line = monitor_line(self.now_us(), c, argv);
        let monitors = self.monitors.clone();
        let mut system = Client::new(0, self.now_ms);
        for id in monitors {
            if id == c.id {
                continue;
            }
            self.push_to(&mut system, id, |r| r.simple(&line));
        }
    }

    fn now_us(&self) -> i64 {
        crate::node::unix_us()
    }
}

/// `+<unix>.<µs> [<db> <addr>] "arg" ...`; AUTH and HELLO secrets redacted.
/// A unix-socket client is shown as `unix:<path>` (its CLIENT LIST address
/// is `<path>:0`), as Redis's `replicationFeedMonitors` does.
fn monitor_line(now_us: i64, c: &Client, argv: &[&[u8]]) -> Vec<u8> {
    let source = match c.addr.strip_suffix(":0") {
        Some(path) if c.unix_socket => format!("unix:{path}"),
        _ => c.addr.clone(),
    };
    let mut line = format!(
        "{}.{:06} [{} {source}]",
        now_us / 1_000_000,
        now_us % 1_000_000,
        c.db,
    )
    .into_bytes();
    for arg in redacted(argv) {
        line.push(b' ');
        quote_arg(&mut line, arg);
    }
    line
}

/// What MONITOR and the slow log may show of a command line: secrets
/// replaced by `(redacted)`, as Redis's `redactClientCommandArgument`
/// does — AUTH's arguments, HELLO's AUTH username and password, and the
/// values CONFIG SET gives to sensitive directives (passwords, the
/// replication user).
pub fn redacted<'a>(argv: &[&'a [u8]]) -> Vec<&'a [u8]> {
    const REDACTED: &[u8] = b"(redacted)";
    let mut shown = argv.to_vec();
    let name = argv[0];
    if name.eq_ignore_ascii_case(b"auth") {
        shown[1..].fill(REDACTED);
    } else if name.eq_ignore_ascii_case(b"hello") {
        let auth = argv
            .iter()
            .skip(2)
            .position(|a| a.eq_ignore_ascii_case(b"auth"))
            .map(|p| p + 2);
        if let Some(p) = auth {
            for secret in shown.iter_mut().skip(p + 1).take(2) {
                *secret = REDACTED;
            }
        }
    } else if name.eq_ignore_ascii_case(b"config")
        && argv.get(1).is_some_and(|s| s.eq_ignore_ascii_case(b"set"))
    {
        for i in (2..argv.len().saturating_sub(1)).step_by(2) {
            let sensitive = crate::node::config::lookup_entry(argv[i])
                .is_some_and(|(d, _)| d.has(crate::node::config::flags::SENSITIVE));
            if sensitive {
                shown[i + 1] = REDACTED;
            }
        }
    }
    shown
}

/// Quote like Redis's `sdscatrepr`.
pub fn quote_arg(out: &mut Vec<u8>, arg: &[u8]) {
    out.push(b'"');
    for &b in arg {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            c if c.is_ascii_graphic() || c == b' ' => out.push(c),
            c => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// The refusal of a command that may grow memory while over `maxmemory`.
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// The refusal while the last background save failed.
const MISCONF_RDB: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// Whether running `cmd` may write: a write command, or an EXEC whose
/// queued commands include one.
fn is_write(names: &commands::Renames, c: &Client, cmd: &Command) -> bool {
    cmd.has(flags::WRITE)
        || (cmd.name == "exec"
            && c.multi.as_ref().is_some_and(|m| {
                m.commands
                    .iter()
                    .any(|argv| names.lookup(&argv[0]).is_some_and(|q| q.has(flags::WRITE)))
            }))
}

/// Commands a RESP2 client may run while subscribed.
fn allowed_in_pubsub_context(cmd: &Command) -> bool {
    matches!(
        cmd.name,
        "ping"
            | "subscribe"
            | "ssubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "quit"
            | "reset"
    )
}

/// Commands that run at once inside MULTI instead of being queued.
fn runs_inside_multi(cmd: &Command) -> bool {
    matches!(
        cmd.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// Redis's unknown-command error, with its argument preview.
fn unknown_command(argv: &[&[u8]]) -> CmdError {
    CmdError::Owned(crate::resp::errors::unknown_command(argv))
}

fn unknown_subcommand(sub: &[u8], container: &str) -> CmdError {
    CmdError::Owned(crate::resp::errors::unknown_subcommand(sub, container))
}

#[cfg(test)]
mod tests {
    //! The effect stream, checked through the node without sockets: what a
    //! replica or the AOF would receive for a sequence of commands.

    use crate::node::config::Config;
    use crate::node::Node;

    fn node_with_capture() -> (Node, u64) {
        let mut node = Node::new(Config::default());
        node.effects.start_capture();
        let id = node.connect(|_| {});
        (node, id)
    }

    /// Run inline commands and return the client's replies.
    fn run(node: &mut Node, id: u64, lines: &[&str]) -> String {
        let mut input = Vec::new();
        for l in lines {
            input.extend_from_slice(l.as_bytes());
            input.extend_from_slice(b"\r\n");
        }
        let outcome = node.process_input(id, &input);
        assert_eq!(outcome.consumed, input.len());
        let mut out = Vec::new();
        node.clients.get_mut(id).unwrap().reply.swap_out(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The captured stream with every 13-digit absolute time masked.
    fn stream(node: &mut Node) -> String {
        let text = String::from_utf8(node.effects.take_captured())
            .unwrap()
            .replace("\r\n", " ");
        text.split(' ')
            .map(|t| {
                if t.len() == 13 && t.bytes().all(|c| c.is_ascii_digit()) {
                    "<ms>"
                } else {
                    t
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn writes_propagate_in_their_effect_form() {
        let (mut node, id) = node_with_capture();
        run(
            &mut node,
            id,
            &[
                "set a 1",
                "expire a 100",
                "setex b 100 v",
                "SET c v EX 100",
                "incrbyfloat f 1.5",
                "SELECT 3",
                "set x y",
                "SELECT 0",
                "MULTI",
                "SET t1 1",
                "INCR t1",
                "EXEC",
                "getex a PERSIST",
                "getset g v",
            ],
        );
        assert_eq!(
            stream(&mut node),
            "*2 $6 SELECT $1 0 *3 $3 set $1 a $1 1 *3 $9 PEXPIREAT $1 a $13 <ms> \
             *5 $3 SET $1 b $1 v $4 PXAT $13 <ms> *5 $3 SET $1 c $1 v $4 PXAT $13 <ms> \
             *4 $3 SET $1 f $3 1.5 $7 KEEPTTL *2 $6 SELECT $1 3 *3 $3 set $1 x $1 y *2 $6 SELECT $1 0 \
             *1 $5 MULTI *3 $3 SET $2 t1 $1 1 *2 $4 INCR $2 t1 *1 $4 EXEC *2 $7 PERSIST $1 a \
             *3 $3 SET $1 g $1 v "
        );
    }

    #[test]
    fn commands_that_change_nothing_are_not_propagated() {
        let (mut node, id) = node_with_capture();
        run(
            &mut node,
            id,
            &[
                "DEL missing",
                "SET k v",
                "SETNX k other",
                "EXPIRE missing 10",
                "PERSIST k",
                "GET k",
            ],
        );
        assert_eq!(stream(&mut node), "*2 $6 SELECT $1 0 *3 $3 SET $1 k $1 v ");
        // FLUSHALL always reaches replicas, even on an empty node.
        run(&mut node, id, &["FLUSHALL", "FLUSHALL"]);
        assert_eq!(stream(&mut node), "*1 $8 FLUSHALL *1 $8 FLUSHALL ");
    }

    #[test]
    fn an_expired_key_is_deleted_before_the_command_that_found_it() {
        let (mut node, id) = node_with_capture();
        run(&mut node, id, &["SET x 1", "PEXPIREAT x 1"]);
        assert_eq!(
            stream(&mut node),
            "*2 $6 SELECT $1 0 *3 $3 SET $1 x $1 1 *2 $3 DEL $1 x "
        );
        run(&mut node, id, &["SET y 5", "PEXPIRE y 100000"]);
        stream(&mut node);
        // Make y logically expired, as if its time passed.
        node.keyspace.dbs[0].set_expire(b"y", 1);
        let replies = run(&mut node, id, &["incr y"]);
        assert_eq!(replies, ":1\r\n");
        assert_eq!(stream(&mut node), "*2 $3 DEL $1 y *2 $4 incr $1 y ");
    }

    #[test]
    fn a_single_effect_transaction_is_not_wrapped() {
        let (mut node, id) = node_with_capture();
        run(&mut node, id, &["MULTI", "SET a 1", "GET a", "EXEC"]);
        assert_eq!(stream(&mut node), "*2 $6 SELECT $1 0 *3 $3 SET $1 a $1 1 ");
    }
}

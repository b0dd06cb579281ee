//! The ordered stream of effects: what replicas and the AOF receive.
//!
//! Every change to the keyspace is recorded here, in the order the keyspace
//! saw it, as the command that reproduces it (`SET k v`, `PEXPIREAT k t`,
//! `DEL k` for an expiry). Two entry points, as in Redis 7.0:
//!
//! * [`Effects::propagate_now`] writes at once. Used for deletions of
//!   expired keys, which must precede the command that noticed them.
//! * [`Effects::also_propagate`] queues an effect of the running command;
//!   when the top-level command (or EXEC, or a script) finishes,
//!   [`Effects::flush_pending`] writes the queue, wrapped in `MULTI`/`EXEC`
//!   when it holds more than one effect so that consumers apply it
//!   atomically.
//!
//! The stream is RESP arrays of bulk strings with a `SELECT` whenever the
//! database changes. Nothing is encoded while no consumer is attached
//! ([`Effects::active`]), so a node without replicas or AOF pays nothing.
//! Consumers: the AOF (its buffer is drained by `persistence::aof` before
//! replies are written), the replication stream (drained by `replication`
//! into the backlog and the replicas) and a capture buffer (tests and
//! tools). Each keeps its own notion of the selected database.

/// One effect: the database it applies to and the command.
type Op = (usize, Vec<Vec<u8>>);

#[derive(Default)]
pub struct Effects {
    pending: Vec<Op>,
    capture: Option<Sink>,
    aof: Option<Sink>,
    repl: Option<Sink>,
}

/// A consumer of the encoded stream, with its own notion of the selected db
/// (each consumer starts fresh, e.g. a new replica or a rewritten AOF).
struct Sink {
    selected_db: Option<usize>,
    bytes: Vec<u8>,
    /// `aof-timestamp-enabled`: a `#TS:<unix s>` line whenever the second
    /// changes, and the second last written.
    timestamps: bool,
    last_second: i64,
}

impl Sink {
    fn new() -> Self {
        Sink {
            selected_db: None,
            bytes: Vec::new(),
            timestamps: false,
            last_second: 0,
        }
    }

    /// Move the bytes encoded since the last call to the end of `out`.
    /// When `out` is empty the buffers are swapped, so both keep their
    /// capacity and a steady write load allocates nothing per round.
    fn drain_into(&mut self, out: &mut Vec<u8>) {
        if out.is_empty() {
            std::mem::swap(out, &mut self.bytes);
        } else {
            out.append(&mut self.bytes);
        }
    }

    fn feed(&mut self, db: usize, argv: &[&[u8]]) {
        if self.timestamps {
            let now = crate::node::unix_ms() / 1000;
            if now > self.last_second {
                self.bytes
                    .extend_from_slice(format!("#TS:{now}\r\n").as_bytes());
                self.last_second = now;
            }
        }
        if self.selected_db != Some(db) {
            let db_text = db.to_string();
            encode_command(&mut self.bytes, &[b"SELECT", db_text.as_bytes()]);
            self.selected_db = Some(db);
        }
        encode_command(&mut self.bytes, argv);
    }
}

/// Append `argv` as a RESP array of bulk strings.
pub fn encode_command(out: &mut Vec<u8>, argv: &[&[u8]]) {
    let mut n = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(n.format(argv.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in argv {
        out.push(b'$');
        out.extend_from_slice(n.format(arg.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

impl Effects {
    /// Whether anything consumes the stream (so effects must be built).
    pub fn active(&self) -> bool {
        self.capture.is_some() || self.aof.is_some() || self.repl.is_some()
    }

    /// Write an effect immediately.
    pub fn propagate_now(&mut self, db: usize, argv: &[&[u8]]) {
        if let Some(sink) = &mut self.aof {
            sink.feed(db, argv);
        }
        if let Some(sink) = &mut self.repl {
            sink.feed(db, argv);
        }
        if let Some(sink) = &mut self.capture {
            sink.feed(db, argv);
        }
    }

    /// Write a command to the replication stream only, in whatever
    /// database is selected there (PING and REPLCONF GETACK to replicas).
    pub fn propagate_to_replicas(&mut self, argv: &[&[u8]]) {
        if let Some(sink) = &mut self.repl {
            encode_command(&mut sink.bytes, argv);
        }
    }

    /// Start feeding the replication stream; the first effect is preceded
    /// by a `SELECT`.
    pub fn start_repl(&mut self) {
        self.repl = Some(Sink::new());
    }

    /// Stop feeding the replication stream; returns what was not taken.
    pub fn stop_repl(&mut self) -> Vec<u8> {
        self.repl.take().map(|s| s.bytes).unwrap_or_default()
    }

    pub fn repl_active(&self) -> bool {
        self.repl.is_some()
    }

    /// Make the next replicated effect start with a `SELECT` (a replica
    /// starting from a snapshot does not know the stream's database).
    pub fn force_repl_select(&mut self) {
        if let Some(sink) = &mut self.repl {
            sink.selected_db = None;
        }
    }

    /// The database the replication stream has selected (`repl-stream-db`).
    pub fn repl_selected_db(&self) -> Option<usize> {
        self.repl.as_ref().and_then(|s| s.selected_db)
    }

    /// Bytes encoded for the replication stream and not yet taken.
    pub fn repl_pending(&self) -> usize {
        self.repl.as_ref().map_or(0, |s| s.bytes.len())
    }

    /// Move the replication bytes encoded since the last call to `out`
    /// (see [`Sink::drain_into`]).
    pub fn drain_repl_into(&mut self, out: &mut Vec<u8>) {
        if let Some(sink) = &mut self.repl {
            sink.drain_into(out);
        }
    }

    /// Queue an effect of the running command.
    pub fn also_propagate(&mut self, db: usize, argv: Vec<Vec<u8>>) {
        if self.active() {
            self.pending.push((db, argv));
        }
    }

    /// Write the queued effects of a finished top-level command.
    pub fn flush_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let wrap = pending.len() > 1;
        if wrap {
            // MULTI goes to the first effect's db so any SELECT precedes it.
            self.propagate_now(pending[0].0, &[b"MULTI"]);
        }
        for (db, argv) in &pending {
            let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
            self.propagate_now(*db, &args);
        }
        if wrap {
            let db = pending.last().map_or(0, |p| p.0);
            self.propagate_now(db, &[b"EXEC"]);
        }
    }

    /// Start recording the stream (tests, tools).
    pub fn start_capture(&mut self) {
        self.capture = Some(Sink::new());
    }

    /// Start (or restart) feeding the AOF. The next effect is preceded by a
    /// `SELECT`, since a new AOF file is loaded starting from db 0.
    pub fn start_aof(&mut self, timestamps: bool) {
        let mut sink = Sink::new();
        self.drain_aof_into(&mut sink.bytes);
        sink.timestamps = timestamps;
        self.aof = Some(sink);
    }

    /// `CONFIG SET aof-timestamp-enabled`.
    pub fn set_aof_timestamps(&mut self, on: bool) {
        if let Some(sink) = &mut self.aof {
            sink.timestamps = on;
        }
    }

    /// Stop feeding the AOF; returns what was not taken yet.
    pub fn stop_aof(&mut self) -> Vec<u8> {
        self.aof.take().map(|s| s.bytes).unwrap_or_default()
    }

    /// Move the AOF bytes encoded since the last call to the end of `out`
    /// (see [`Sink::drain_into`]).
    pub fn drain_aof_into(&mut self, out: &mut Vec<u8>) {
        if let Some(sink) = &mut self.aof {
            sink.drain_into(out);
        }
    }

    /// Bytes waiting for the AOF (`aof_buffer_length`).
    pub fn aof_pending(&self) -> usize {
        self.aof.as_ref().map_or(0, |s| s.bytes.len())
    }

    /// The bytes recorded since the last call.
    pub fn take_captured(&mut self) -> Vec<u8> {
        self.capture
            .as_mut()
            .map(|s| std::mem::take(&mut s.bytes))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_precedes_db_changes_and_transactions_are_wrapped() {
        let mut e = Effects::default();
        e.start_capture();
        e.also_propagate(0, vec![b"set".to_vec(), b"a".to_vec(), b"1".to_vec()]);
        e.flush_pending();
        e.also_propagate(3, vec![b"SET".to_vec(), b"t".to_vec(), b"1".to_vec()]);
        e.also_propagate(3, vec![b"INCR".to_vec(), b"t".to_vec()]);
        e.flush_pending();
        let got = String::from_utf8(e.take_captured())
            .unwrap()
            .replace("\r\n", " ");
        assert_eq!(
            got,
            "*2 $6 SELECT $1 0 *3 $3 set $1 a $1 1 *2 $6 SELECT $1 3 *1 $5 MULTI *3 $3 SET $1 t $1 1 *2 $4 INCR $1 t *1 $4 EXEC "
        );
    }

    #[test]
    fn nothing_is_built_without_consumers() {
        let mut e = Effects::default();
        e.also_propagate(0, vec![b"x".to_vec()]);
        assert!(e.pending.is_empty());
    }
}

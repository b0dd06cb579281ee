//! Writing replies: when and how the bytes a command produced reach the
//! socket.
//!
//! Like Redis's `beforeSleep`, replies are not written the moment a
//! connection's batch finishes: the connection is queued, and every queued
//! connection is flushed when the runtime has no more work and is about to
//! wait for events ([`before_sleep`], installed as the runtime's park hook).
//! Under load this matters a lot: clients woken by one round of events get
//! their replies together and send their next requests together, so the
//! server handles many requests per wake-up instead of sleeping and waking
//! for nearly every one (measured: about four times fewer context switches
//! with redis-benchmark's 50 clients).
//!
//! The AOF is written first, in the same place (`Node::flush_aof`): with
//! `appendfsync always` one fsync then covers every write of the round.
//!
//! Big replies, and connections queued while many others already wait, are
//! written at once instead, so memory and latency stay bounded when the
//! server never goes idle. A write that would block leaves the rest pending
//! and tells the connection task to wait until the socket is writable.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::{Rc, Weak};

use tokio::sync::Notify;

use super::Shared;
use crate::node::client::ClientId;
use crate::node::Node;

/// Replies at least this big are written without waiting for the flush.
const WRITE_NOW_BYTES: usize = 64 * 1024;
/// Queue at most this many connections before flushing inline.
const MAX_QUEUED: usize = 256;

/// What the server layer keeps per connection.
pub struct ConnHandle {
    /// Wakes the connection task: new output, a state change, a flush result.
    pub notify: Notify,
    /// The socket (owned by the task's `AsyncFd`).
    pub fd: i32,
    /// A write would block: the task waits for writability.
    pub write_blocked: Cell<bool>,
    /// Queued for the next flush.
    queued: Cell<bool>,
}

impl ConnHandle {
    pub fn new(fd: i32) -> Self {
        ConnHandle {
            notify: Notify::new(),
            fd,
            write_blocked: Cell::new(false),
            queued: Cell::new(false),
        }
    }
}

/// Result of trying to write a client's pending output.
#[derive(Debug, PartialEq, Eq)]
pub enum WriteState {
    /// Everything was written.
    Done,
    /// The socket is full; the rest waits for writability.
    Blocked,
    /// The client is gone or must be closed.
    Close,
}

/// Write as much of client `id`'s pending output as the socket takes.
/// The AOF goes first: no reply leaves before the write it acknowledges is
/// in the AOF (and, with `appendfsync always`, on disk).
pub fn write_out(node: &mut Node, id: ClientId, fd: i32) -> io::Result<WriteState> {
    node.flush_aof(false);
    node.flush_replication();
    let mut written = 0;
    let mut blocked = false;
    loop {
        let Some(c) = node.clients.get_mut(id) else {
            return Ok(WriteState::Close);
        };
        if c.close_asap {
            return Ok(WriteState::Close);
        }
        if c.reply.is_empty() {
            // A replica being sent a snapshot file: the next chunk.
            if c.repl.as_ref().is_some_and(|r| r.bulk.is_some()) && node.refill_replica_output(id) {
                continue;
            }
            break;
        }
        match write_fd(fd, c.reply.bytes()) {
            Ok(0) => {
                blocked = true;
                break;
            }
            Ok(n) => {
                c.reply.consume(n);
                written += n;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                blocked = true;
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    let Some(c) = node.clients.get_mut(id) else {
        return Ok(WriteState::Close);
    };
    if !blocked {
        c.reply.shrink_if_idle(16 * 1024);
    }
    let close = !blocked && c.close_after_reply;
    if written > 0 {
        if c.is_attached_replica() {
            node.repl.net_output_bytes += written as u64;
        } else {
            node.stats.total_net_output_bytes += written as u64;
        }
        node.stats.total_writes_processed += 1;
    }
    Ok(match (close, blocked) {
        (true, _) => WriteState::Close,
        (false, true) => WriteState::Blocked,
        (false, false) => WriteState::Done,
    })
}

thread_local! {
    /// The server running on this thread and the connections waiting for
    /// the flush.
    static PENDING: RefCell<(Weak<Shared>, Vec<ClientId>)> = const { RefCell::new((Weak::new(), Vec::new())) };
}

/// Register the server whose writes [`before_sleep`] flushes.
pub fn install(shared: &Rc<Shared>) {
    PENDING.with(|p| p.borrow_mut().0 = Rc::downgrade(shared));
}

/// After a batch: queue the connection's output for the flush, or write it
/// now when it is big or many connections already wait.
pub fn after_batch(shared: &Shared, id: ClientId, handle: &ConnHandle) -> io::Result<WriteState> {
    if handle.write_blocked.get() {
        return Ok(WriteState::Blocked);
    }
    let (pending, close_after) = {
        let node = shared.node.borrow();
        match node.clients.get(id) {
            Some(c) => (c.reply.len(), c.close_after_reply),
            None => return Ok(WriteState::Close),
        }
    };
    if pending == 0 {
        return Ok(if close_after {
            WriteState::Close
        } else {
            WriteState::Done
        });
    }
    let queue_full = PENDING.with(|p| p.borrow().1.len() >= MAX_QUEUED);
    if pending >= WRITE_NOW_BYTES || queue_full || close_after {
        let state = write_out(&mut shared.node.borrow_mut(), id, handle.fd)?;
        handle.write_blocked.set(state == WriteState::Blocked);
        return Ok(state);
    }
    if !handle.queued.replace(true) {
        PENDING.with(|p| p.borrow_mut().1.push(id));
    }
    Ok(WriteState::Done)
}

/// The runtime's park hook: flush every queued connection. Connections that
/// could not write everything, or must close, are woken to deal with it.
pub fn before_sleep() {
    let (shared, ids) = PENDING.with(|p| {
        let mut p = p.borrow_mut();
        (p.0.upgrade(), std::mem::take(&mut p.1))
    });
    let Some(shared) = shared else {
        return;
    };
    // One AOF write (and fsync) for everything this round changed; the
    // replication stream (and any WAIT's request for acknowledgements)
    // goes to the replicas' buffers, whose tasks are woken to write it.
    {
        let mut node = shared.node.borrow_mut();
        node.flush_aof(false);
        node.request_acks_if_asked();
        node.flush_replication();
    }
    shared.deliver_wakeups();
    if ids.is_empty() {
        return;
    }
    for id in ids {
        let Some(handle) = shared.handle(id) else {
            continue;
        };
        handle.queued.set(false);
        let state = write_out(&mut shared.node.borrow_mut(), id, handle.fd);
        match state {
            Ok(WriteState::Done) => {}
            Ok(WriteState::Blocked) => {
                handle.write_blocked.set(true);
                handle.notify.notify_one();
            }
            Ok(WriteState::Close) | Err(_) => {
                if let Some(c) = shared.node.borrow_mut().clients.get_mut(id) {
                    c.close_asap = true;
                }
                handle.notify.notify_one();
            }
        }
    }
}

/// `write(2)` on a raw descriptor (the socket is owned by the AsyncFd).
fn write_fd(fd: i32, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for `buf.len()` bytes; `fd` is an open socket
    // owned by the connection for as long as its handle exists.
    let n = unsafe { libc::write(fd, buf.as_ptr() as *const libc::c_void, buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

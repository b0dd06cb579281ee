//! One client connection: moves bytes between its socket and the node.
//!
//! The task reads whatever is available, hands the whole buffer to
//! [`Node::process_input`] (every complete command runs), and the replies
//! go out with one `write` (DESIGN principle 3), usually at the next flush
//! (see `writes`). Other clients' actions (a PUBLISH, CLIENT KILL, the end
//! of a pause) and the flush reach the task through its handle's `Notify`.
//!
//! Reads use the readiness API directly so that a short read — the socket
//! is drained — clears readiness without the extra `read` returning
//! EAGAIN that a read-until-WouldBlock loop would cost on every request.
//! The socket is registered for readability only; interest in writability
//! is added while a write is blocked and removed after (as Redis installs
//! its write handler), because otherwise every reply the client drains
//! raises an EPOLLOUT edge that wakes the thread for nothing.
//! The task never awaits while holding the node borrowed.

use std::io;
use std::os::fd::AsRawFd;
use std::rc::Rc;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::writes::{self, ConnHandle, WriteState};
use super::Shared;
use crate::node::client::ClientId;
use crate::node::unix_ms;

/// Read size per syscall, as Redis's `PROTO_IOBUF_LEN`.
const IOBUF_LEN: usize = 16 * 1024;

/// What the connection should do after talking to the node.
#[derive(PartialEq, Eq)]
enum Next {
    Continue,
    Close,
}

pub async fn serve<S: AsRawFd>(
    shared: Rc<Shared>,
    io: AsyncFd<S>,
    id: ClientId,
    handle: Rc<ConnHandle>,
) {
    serve_with_input(shared, io, id, handle, Vec::new()).await
}

/// Serve a connection whose first bytes were already read (the master's
/// link after the handshake). Whatever the client has to say first (the
/// master link's ACK) is written at once.
pub async fn serve_with_input<S: AsRawFd>(
    shared: Rc<Shared>,
    io: AsyncFd<S>,
    id: ClientId,
    handle: Rc<ConnHandle>,
    input: Vec<u8>,
) {
    let fd = handle.fd;
    let mut conn = Connection {
        shared: shared.clone(),
        id,
        handle,
        inbuf: input,
        start: 0,
        stalled: false,
        block_deadline: None,
    };
    let mut socket = Some(io);
    let result = match conn.process() {
        Ok(Next::Close) => Ok(()),
        Ok(Next::Continue) => conn.run(&mut socket).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        tracing::debug!("Client id={id} closed: {e}");
    }
    if socket.is_some() {
        // Shut the socket down rather than only closing our descriptor: a
        // snapshot child may hold a copy of it (a replica being sent a
        // snapshot), and the peer must see the end now.
        // SAFETY: `fd` is open: `socket` owns it until dropped below.
        unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
    }
    drop(socket);
    shared.disconnect(id);
}

struct Connection {
    shared: Rc<Shared>,
    id: ClientId,
    handle: Rc<ConnHandle>,
    /// Bytes read and not yet consumed start at `start`.
    inbuf: Vec<u8>,
    start: usize,
    /// A complete command waits (client paused or blocked): don't run more
    /// until woken.
    stalled: bool,
    /// Blocked in BLPOP-style command until this Unix ms time.
    block_deadline: Option<i64>,
}

impl Connection {
    async fn run<S: AsRawFd>(&mut self, socket: &mut Option<AsyncFd<S>>) -> io::Result<()> {
        let fd = self.handle.fd;
        let mut watching_writes = false;
        loop {
            if self.shared.must_close(self.id) {
                return Ok(());
            }
            let blocked = self.handle.write_blocked.get();
            let timeout = self.block_deadline.map(deadline_instant);
            if blocked != watching_writes {
                let interest = if blocked {
                    Interest::READABLE | Interest::WRITABLE
                } else {
                    Interest::READABLE
                };
                let taken = socket.take().expect("the connection's socket");
                *socket = Some(reregister(taken, interest)?);
                watching_writes = blocked;
            }
            let io = socket.as_ref().expect("the connection's socket");
            tokio::select! {
                biased;
                _ = self.handle.notify.notified() => {
                    self.stalled = false;
                    if self.process()? == Next::Close {
                        return Ok(());
                    }
                }
                guard = io.readable() => {
                    let mut guard = guard?;
                    self.reserve_read_space();
                    let spare = self.inbuf.capacity() - self.inbuf.len();
                    let len = self.inbuf.len();
                    // SAFETY: `spare` bytes of capacity follow `len`; they are
                    // only exposed as initialized after `read` filled `n`.
                    let dst = unsafe { std::slice::from_raw_parts_mut(self.inbuf.as_mut_ptr().add(len), spare) };
                    match guard.try_io(|_| read_fd(fd, dst)) {
                        Ok(Ok(0)) => return Ok(()),
                        Ok(Ok(n)) => {
                            // SAFETY: `read` initialized `n` bytes after `len`.
                            unsafe { self.inbuf.set_len(len + n) };
                            if n < spare {
                                // Short read: the socket is drained.
                                guard.clear_ready();
                            }
                            self.shared.count_input(n);
                            if self.over_query_limit() {
                                return Ok(());
                            }
                            if !self.stalled && self.process()? == Next::Close {
                                return Ok(());
                            }
                        }
                        Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                        Ok(Err(e)) => return Err(e),
                        Err(_would_block) => {}
                    }
                }
                _ = sleep_until_opt(timeout), if timeout.is_some() => {
                    self.shared.node.borrow_mut().unblock_timed_out(self.id, unix_ms());
                    self.block_deadline = None;
                    self.stalled = false;
                    if self.process()? == Next::Close {
                        return Ok(());
                    }
                }
                guard = io.writable(), if blocked => {
                    let mut guard = guard?;
                    let state = writes::write_out(&mut self.shared.node.borrow_mut(), self.id, fd)?;
                    match state {
                        WriteState::Close => return Ok(()),
                        // Still full: wait for the next writable edge.
                        WriteState::Blocked => guard.clear_ready(),
                        WriteState::Done => self.handle.write_blocked.set(false),
                    }
                }
            }
        }
    }

    /// Keep room for a full read; grow towards what a pending big argument
    /// needs, but never allocate ahead of the bytes actually arriving.
    fn reserve_read_space(&mut self) {
        if self.start > 0
            && (self.start == self.inbuf.len() || self.start > self.inbuf.capacity() / 2)
        {
            self.inbuf.drain(..self.start);
            self.start = 0;
        }
        if self.inbuf.capacity() - self.inbuf.len() < IOBUF_LEN {
            self.inbuf.reserve(IOBUF_LEN.max(self.inbuf.len()));
        }
    }

    /// `client-query-buffer-limit`: a client past it is closed without a
    /// reply, logged as Redis logs it (its CLIENT LIST line and the first
    /// 64 bytes of the buffer, quoted). The master's link is exempt: its
    /// stream may legitimately carry big arguments.
    fn over_query_limit(&self) -> bool {
        let node = self.shared.node.borrow();
        let limit = node.config.settings.client_query_buffer_limit as usize;
        let pending = &self.inbuf[self.start..];
        if pending.len() <= limit {
            return false;
        }
        let Some(c) = node.clients.get(self.id) else {
            return true;
        };
        if c.is_master {
            return false;
        }
        use crate::node::stats::{count_disconnection, QUERY_LIMIT_DISCONNECTIONS};
        count_disconnection(&QUERY_LIMIT_DISCONNECTIONS);
        let info = crate::node::commands::client_cmd::client_info_line(c, unix_ms(), 0);
        let mut head = Vec::new();
        crate::node::exec::quote_arg(&mut head, &pending[..pending.len().min(64)]);
        tracing::warn!(
            "Closing client that reached max query buffer length: {} (qbuf initial bytes: {})",
            info.trim_end(),
            String::from_utf8_lossy(&head)
        );
        true
    }

    /// Run what is buffered, then hand the replies to the writer.
    fn process(&mut self) -> io::Result<Next> {
        let id = self.id;
        let (outcome, close_now) = {
            let mut node = self.shared.node.borrow_mut();
            if let Some(c) = node.clients.get_mut(id) {
                c.last_interaction_ms = unix_ms();
                c.query_buf_len = self.inbuf.len() - self.start;
                c.query_buf_free = self.inbuf.capacity() - self.inbuf.len();
            }
            let outcome = node.process_input(id, &self.inbuf[self.start..]);
            // Between batches others see only what is not consumed yet
            // (CLIENT LIST `qbuf`), as Redis's querybuf.
            let close_now = match node.clients.get_mut(id) {
                Some(c) => {
                    c.query_buf_len = self.inbuf.len() - self.start - outcome.consumed;
                    c.close_asap
                }
                None => true,
            };
            (outcome, close_now)
        };
        self.shared.after_node_work();
        self.start += outcome.consumed;
        if self.start == self.inbuf.len() {
            self.inbuf.clear();
            self.start = 0;
        }
        self.stalled = outcome.stalled;
        self.block_deadline = outcome.block_deadline;
        if close_now {
            return Ok(Next::Close);
        }
        Ok(match writes::after_batch(&self.shared, id, &self.handle)? {
            WriteState::Close => Next::Close,
            WriteState::Done | WriteState::Blocked => Next::Continue,
        })
    }
}

/// When to check a blocked client's deadline: the first millisecond past
/// it, as Redis times a client out only once the clock has passed its
/// deadline (whole milliseconds, so never before the full wait).
fn deadline_instant(deadline_ms: i64) -> tokio::time::Instant {
    let left = (deadline_ms.saturating_add(1) - unix_ms()).max(0) as u64;
    tokio::time::Instant::now() + std::time::Duration::from_millis(left)
}

async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Register the socket again with another interest set (the readiness
/// already seen is not lost: the next read or write tries the socket).
fn reregister<S: AsRawFd>(io: AsyncFd<S>, interest: Interest) -> io::Result<AsyncFd<S>> {
    let inner = io.into_inner();
    // SAFETY: `inner` owns its open descriptor, which moves into the new
    // AsyncFd and stays open and unchanged for its whole lifetime.
    unsafe { AsyncFd::register_with_interest(inner, interest) }.map_err(|e| e.into_parts().1)
}

/// `read(2)` on a raw descriptor (the socket is owned by the AsyncFd).
fn read_fd(fd: i32, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes; `fd` is an open
    // socket owned by the connection for as long as this call runs.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

//! One client connection: moves bytes between its socket and the node.
//!
//! The task reads whatever is available, hands the whole buffer to
//! [`Node::process_input`] (every complete command runs), and writes all
//! the replies with one `write` (DESIGN principle 3). Other clients' actions
//! (a PUBLISH, CLIENT KILL, the end of a pause) reach it through its
//! [`Notify`]: the node appended output or changed its state.
//!
//! Reads use the readiness API directly so that a short read — the socket
//! is drained — clears readiness without the extra `read` returning
//! EAGAIN that a read-until-WouldBlock loop would cost on every request.
//! The task never awaits while holding the node borrowed.

use std::io;
use std::os::fd::AsRawFd;
use std::rc::Rc;

use tokio::io::unix::AsyncFd;
use tokio::sync::Notify;

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
    notify: Rc<Notify>,
) {
    let fd = io.get_ref().as_raw_fd();
    let mut conn = Connection {
        shared: shared.clone(),
        id,
        fd,
        inbuf: Vec::with_capacity(IOBUF_LEN),
        start: 0,
        stalled: false,
    };
    let result = conn.run(&io, &notify).await;
    if let Err(e) = result {
        tracing::debug!("Client id={id} closed: {e}");
    }
    shared.disconnect(id);
}

struct Connection {
    shared: Rc<Shared>,
    id: ClientId,
    /// The socket, owned by the task's `AsyncFd` (writes go straight to it).
    fd: i32,
    /// Bytes read and not yet consumed start at `start`.
    inbuf: Vec<u8>,
    start: usize,
    /// A complete command waits (client paused): don't run more until woken.
    stalled: bool,
}

impl Connection {
    async fn run<S: AsRawFd>(&mut self, io: &AsyncFd<S>, notify: &Notify) -> io::Result<()> {
        loop {
            let pending_output = self.shared.has_output(self.id);
            tokio::select! {
                biased;
                _ = notify.notified() => {
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
                    match guard.try_io(|_| read_fd(self.fd, dst)) {
                        Ok(Ok(0)) => return Ok(()),
                        Ok(Ok(n)) => {
                            // SAFETY: `read` initialized `n` bytes after `len`.
                            unsafe { self.inbuf.set_len(len + n) };
                            if n < spare {
                                // Short read: the socket is drained.
                                guard.clear_ready();
                            }
                            self.shared.count_input(self.id, n);
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
                guard = io.writable(), if pending_output => {
                    let mut guard = guard?;
                    if self.flush(&mut guard)? == Next::Close {
                        return Ok(());
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

    /// `client-query-buffer-limit`: a client past it is closed silently.
    fn over_query_limit(&self) -> bool {
        let limit = self
            .shared
            .node
            .borrow()
            .config
            .settings
            .client_query_buffer_limit as usize;
        let pending = self.inbuf.len() - self.start;
        if pending > limit {
            tracing::warn!(
                "Closing client id={} that reached max query buffer length ({pending} bytes)",
                self.id
            );
            return true;
        }
        false
    }

    /// Run what is buffered, then write the replies.
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
            let close_now = node.clients.get(id).is_none_or(|c| c.close_asap);
            (outcome, close_now)
        };
        self.shared.after_node_work();
        self.start += outcome.consumed;
        if self.start == self.inbuf.len() {
            self.inbuf.clear();
            self.start = 0;
        }
        self.stalled = outcome.stalled;
        if close_now {
            return Ok(Next::Close);
        }
        self.write_now()
    }

    /// Write pending replies without waiting.
    fn write_now(&mut self) -> io::Result<Next> {
        let mut node = self.shared.node.borrow_mut();
        let Some(c) = node.clients.get_mut(self.id) else {
            return Ok(Next::Close);
        };
        if c.close_asap {
            return Ok(Next::Close);
        }
        let mut written_total = 0;
        while !c.reply.is_empty() {
            let n = write_fd(self.fd, c.reply.bytes());
            match n {
                Ok(0) => break,
                Ok(n) => {
                    c.reply.consume(n);
                    written_total += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        let done = c.reply.is_empty();
        if done {
            c.reply.shrink_if_idle(IOBUF_LEN);
        }
        let close = done && c.close_after_reply;
        if written_total > 0 {
            node.stats.total_net_output_bytes += written_total as u64;
            node.stats.total_writes_processed += 1;
        }
        Ok(if close { Next::Close } else { Next::Continue })
    }

    fn flush<S: AsRawFd>(
        &mut self,
        guard: &mut tokio::io::unix::AsyncFdReadyGuard<'_, S>,
    ) -> io::Result<Next> {
        let next = self.write_now()?;
        if self.shared.has_output(self.id) {
            // Still blocked: wait for the next writable edge.
            guard.clear_ready();
        }
        Ok(next)
    }
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

/// `write(2)` on a raw descriptor (the socket is owned by the AsyncFd).
fn write_fd(fd: i32, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for `buf.len()` bytes; `fd` is an open socket
    // owned by the connection for as long as this call runs.
    let n = unsafe { libc::write(fd, buf.as_ptr() as *const libc::c_void, buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

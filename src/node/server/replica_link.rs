//! A replica's link to its master, the network half (the node decides,
//! see `node::replication::replica`): connect, the handshake in Redis's
//! order, `PSYNC`, the snapshot transfer (`$<len>` or EOF-marked) into a
//! file that replaces `dbfilename`, loading it, and then handing the
//! socket to an ordinary connection task whose client is the master.
//!
//! One task runs per configured master ([`reconcile`] starts and stops it
//! when `REPLICAOF` changes the node's `link_generation`). A failed or lost
//! link is retried every second, with the cached history (`PSYNC id
//! offset`), so a short outage costs a partial resync only.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{connection, startup, writes, Shared};
use crate::node::effects::encode_command;
use crate::node::persistence::load::InsertRules;
use crate::node::replication::replica::SetAside;
use crate::node::replication::LinkState;
use crate::node::unix_ms;

/// Length of the EOF mark of a diskless transfer.
const EOF_MARK_LEN: usize = 40;
/// Longest handshake line accepted from a master.
const MAX_LINE: usize = 64 * 1024;

/// The running link task.
pub struct LinkTask {
    generation: u64,
    handle: tokio::task::JoinHandle<()>,
    /// The link became the master's client: it ends by closing that
    /// client, not by being aborted.
    streaming: Rc<Cell<bool>>,
}

/// Start, replace or stop the link task to match the node's master.
pub fn reconcile(shared: &Rc<Shared>, slot: &RefCell<Option<LinkTask>>) {
    let (generation, wanted) = {
        let node = shared.node.borrow();
        (node.repl.link_generation, node.repl.master.is_some())
    };
    let mut slot = slot.borrow_mut();
    if slot.as_ref().is_some_and(|t| t.generation == generation) {
        return;
    }
    if let Some(old) = slot.take() {
        if !old.streaming.get() {
            old.handle.abort();
        }
    }
    if wanted {
        let streaming = Rc::new(Cell::new(false));
        let handle = tokio::task::spawn_local(run(shared.clone(), generation, streaming.clone()));
        *slot = Some(LinkTask {
            generation,
            handle,
            streaming,
        });
    }
}

async fn run(shared: Rc<Shared>, generation: u64, streaming: Rc<Cell<bool>>) {
    let mut retry_at_once = true;
    loop {
        if !retry_at_once {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        if shared.node.borrow().repl.link_generation != generation {
            return;
        }
        match attempt(&shared, &streaming).await {
            // The established link was lost: reconnect at once.
            Ok(()) => retry_at_once = true,
            Err(e) => {
                tracing::warn!("{e}");
                retry_at_once = false;
            }
        }
        streaming.set(false);
        if shared.node.borrow().repl.link_generation != generation {
            return;
        }
        shared.node.borrow_mut().set_link_state(LinkState::Connect);
    }
}

/// What the handshake needs from the configuration.
struct Params {
    host: String,
    port: u16,
    timeout: Duration,
    auth: Option<(String, String)>,
    announce_ip: String,
    listening_port: i64,
    dbfilename: String,
}

fn params(shared: &Shared) -> Option<Params> {
    let node = shared.node.borrow();
    let m = node.repl.master.as_ref()?;
    let s = &node.config.settings;
    let listening_port = if s.replica_announce_port > 0 {
        s.replica_announce_port
    } else {
        s.port
    };
    Some(Params {
        host: m.host.clone(),
        port: m.port,
        timeout: Duration::from_secs(s.repl_timeout.max(1) as u64),
        auth: (!s.masterauth.is_empty()).then(|| (s.masteruser.clone(), s.masterauth.clone())),
        announce_ip: s.replica_announce_ip.clone(),
        listening_port,
        dbfilename: s.dbfilename.clone(),
    })
}

/// One connection to the master, from connect to the end of its stream.
async fn attempt(shared: &Rc<Shared>, streaming: &Cell<bool>) -> Result<(), String> {
    let Some(p) = params(shared) else {
        return Ok(());
    };
    shared
        .node
        .borrow_mut()
        .set_link_state(LinkState::Connecting);
    tracing::info!("Connecting to MASTER {}:{}", p.host, p.port);
    let connect = TcpStream::connect((p.host.as_str(), p.port));
    let stream = tokio::time::timeout(p.timeout, connect)
        .await
        .map_err(|_| "Timeout connecting to the MASTER...".to_string())?
        .map_err(|e| format!("Error condition on socket for SYNC: {e}"))?;
    let _ = stream.set_nodelay(true);
    tracing::info!("MASTER <-> REPLICA sync started");
    shared
        .node
        .borrow_mut()
        .set_link_state(LinkState::Handshake);
    let mut link = Link::new(stream, p.timeout);
    handshake(&mut link, &p).await?;

    let (request, failover) = {
        let node = shared.node.borrow();
        (node.psync_request(), node.failover_pauses_writes())
    };
    let offset = request.offset.to_string();
    let mut psync: Vec<&[u8]> = vec![b"PSYNC", request.id.as_bytes(), offset.as_bytes()];
    if failover {
        // We are handing over to this replica: it promotes itself.
        psync.push(b"FAILOVER");
    }
    if let Err(e) = link.send(&psync).await {
        shared
            .node
            .borrow_mut()
            .abort_failover("Write error to failover target");
        return Err(e);
    }
    tracing::info!(
        "Trying a partial resynchronization (request {}:{}).",
        request.id,
        request.offset
    );
    let reply = link.reply_line().await?;
    if failover {
        if reply.starts_with("+FULLRESYNC") || reply.starts_with("+CONTINUE") {
            shared.node.borrow_mut().failover_link_established();
        } else {
            shared
                .node
                .borrow_mut()
                .abort_failover("Failover target rejected psync request");
            return Err(format!("Failover target rejected psync request: {reply}"));
        }
    }
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC") {
        let mut parts = rest.split_whitespace();
        let (Some(id), Some(offset)) = (parts.next(), parts.next().and_then(|o| o.parse().ok()))
        else {
            return Err(format!("Bad reply to PSYNC from master: {reply}"));
        };
        tracing::info!("Full resync from master: {id}:{offset}");
        full_sync(shared, &mut link, &p, id, offset).await?;
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        let new_id = rest.trim();
        shared
            .node
            .borrow_mut()
            .continue_history((!new_id.is_empty()).then_some(new_id));
    } else if reply.starts_with("-NOMASTERLINK") || reply.starts_with("-LOADING") {
        return Err(format!(
            "Master is currently unable to PSYNC but should be in the future: {reply}"
        ));
    } else {
        return Err(format!("Unexpected reply to PSYNC from master: {reply}"));
    }
    streaming.set(true);
    serve_stream(shared, link).await
}

/// PING, then AUTH and the REPLCONFs pipelined, as a Redis replica does.
async fn handshake(link: &mut Link, p: &Params) -> Result<(), String> {
    link.send(&[b"PING"]).await?;
    let pong = link.reply_line().await?;
    if pong.starts_with('-')
        && !pong.starts_with("-NOAUTH")
        && !pong.starts_with("-NOPERM")
        && !pong.starts_with("-ERR operation not permitted")
    {
        return Err(format!("Error reply to PING from master: '{pong}'"));
    }
    tracing::info!("Master replied to PING, replication can continue...");
    let mut out = Vec::new();
    if let Some((user, pass)) = &p.auth {
        if user.is_empty() {
            encode_command(&mut out, &[b"AUTH", pass.as_bytes()]);
        } else {
            encode_command(&mut out, &[b"AUTH", user.as_bytes(), pass.as_bytes()]);
        }
    }
    let port = p.listening_port.to_string();
    encode_command(&mut out, &[b"REPLCONF", b"listening-port", port.as_bytes()]);
    if !p.announce_ip.is_empty() {
        encode_command(
            &mut out,
            &[b"REPLCONF", b"ip-address", p.announce_ip.as_bytes()],
        );
    }
    encode_command(
        &mut out,
        &[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"],
    );
    link.write_all(&out).await?;
    if p.auth.is_some() {
        let reply = link.reply_line().await?;
        if reply.starts_with('-') {
            return Err(format!("Unable to AUTH to MASTER: {reply}"));
        }
    }
    let mut what = vec!["listening-port"];
    if !p.announce_ip.is_empty() {
        what.push("ip-address");
    }
    what.push("capa");
    for option in what {
        let reply = link.reply_line().await?;
        if reply.starts_with('-') {
            tracing::info!("(Non critical) Master does not understand REPLCONF {option}: {reply}");
        }
    }
    Ok(())
}

/// Receive the snapshot into a file, make it `dbfilename`, load it.
async fn full_sync(
    shared: &Rc<Shared>,
    link: &mut Link,
    p: &Params,
    id: &str,
    offset: i64,
) -> Result<(), String> {
    shared.node.borrow_mut().set_link_state(LinkState::Sync);
    let header = link.reply_line().await?;
    if header.starts_with('-') {
        return Err(format!(
            "MASTER aborted replication with an error: {header}"
        ));
    }
    let Some(size) = header.strip_prefix('$') else {
        return Err(format!(
            "Bad protocol from MASTER, the first byte is not '$' (we received '{header}'), are you sure the host and port are right?"
        ));
    };
    let temp = TempFile(format!(
        "temp-{}.{}.rdb",
        unix_ms() / 1000,
        std::process::id()
    ));
    let mut file = std::fs::File::create(&temp.0).map_err(|e| {
        format!("Opening the temp file needed for MASTER <-> REPLICA synchronization: {e}")
    })?;
    let received = match size.strip_prefix("EOF:") {
        Some(mark) if mark.len() == EOF_MARK_LEN => {
            tracing::info!(
                "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk"
            );
            receive_until_mark(shared, link, &mut file, mark.as_bytes()).await?
        }
        Some(_) => return Err(format!("Bad EOF mark from MASTER: {header}")),
        None => {
            let len: u64 = size
                .parse()
                .map_err(|_| format!("Bad bulk length from MASTER: {header}"))?;
            tracing::info!("MASTER <-> REPLICA sync: receiving {len} bytes from master to disk");
            receive_exactly(shared, link, &mut file, len).await?
        }
    };
    file.sync_all().map_err(|e| {
        format!(
            "Failed trying to sync the temp DB to disk in MASTER <-> REPLICA synchronization: {e}"
        )
    })?;
    drop(file);
    std::fs::rename(&temp.0, &p.dbfilename).map_err(|e| {
        format!("Failed trying to rename the temp DB into {} in MASTER <-> REPLICA synchronization: {e}", p.dbfilename)
    })?;
    temp.keep();
    tracing::info!("MASTER <-> REPLICA sync: Flushing old data");
    tracing::info!("MASTER <-> REPLICA sync: Loading DB in memory ({received} bytes)");
    let aside = Restorer::new(
        shared.clone(),
        shared.node.borrow_mut().begin_snapshot_load(),
    );
    let progress = startup::begin_loading(shared, received);
    let rules = InsertRules {
        // A replica keeps what its master has: the master's DELs decide.
        drop_expired: false,
        replace_existing: false,
    };
    let path = Path::new(&p.dbfilename).to_path_buf();
    let load = startup::load_rdb(shared, &path, rules, progress);
    tokio::pin!(load);
    // Newlines keep the master from timing us out while a big load runs.
    let mut keepalive = tokio::time::interval(Duration::from_secs(1));
    keepalive.tick().await;
    let loaded = loop {
        tokio::select! {
            r = &mut load => break r,
            _ = keepalive.tick() => { let _ = link.write_all(b"\n").await; }
        }
    };
    shared.node.borrow_mut().loading = None;
    let aside = aside.take();
    let mut node = shared.node.borrow_mut();
    match loaded {
        Ok(_) => {
            node.finish_snapshot_load(aside, id, offset);
            Ok(())
        }
        Err(e) => {
            node.abort_snapshot_load(aside);
            Err(format!(
                "Failed trying to load the MASTER synchronization DB from disk: {e}"
            ))
        }
    }
}

/// A `$<len>` transfer: exactly `len` bytes (stream data may follow).
async fn receive_exactly(
    shared: &Shared,
    link: &mut Link,
    file: &mut std::fs::File,
    len: u64,
) -> Result<u64, String> {
    let mut read = 0u64;
    while read < len {
        let want = (len - read) as usize;
        let chunk = link.take_buffered(want).await?;
        file.write_all(&chunk)
            .map_err(|e| format!("Write error saving the DB from the MASTER: {e}"))?;
        read += chunk.len() as u64;
        shared.node.borrow_mut().transfer_progress(len as i64, read);
    }
    Ok(read)
}

/// An EOF-marked transfer: everything up to the 40-byte mark the master
/// repeats at the end. The last 40 bytes are held back until more data
/// shows they are not the mark.
async fn receive_until_mark(
    shared: &Shared,
    link: &mut Link,
    file: &mut std::fs::File,
    mark: &[u8],
) -> Result<u64, String> {
    let mut tail: Vec<u8> = Vec::with_capacity(2 * EOF_MARK_LEN);
    let mut written = 0u64;
    loop {
        let chunk = link.take_buffered(usize::MAX).await?;
        tail.extend_from_slice(&chunk);
        if tail.len() > EOF_MARK_LEN {
            let cut = tail.len() - EOF_MARK_LEN;
            file.write_all(&tail[..cut])
                .map_err(|e| format!("Write error saving the DB from the MASTER: {e}"))?;
            written += cut as u64;
            tail.drain(..cut);
        }
        shared
            .node
            .borrow_mut()
            .transfer_progress(-1, written + tail.len() as u64);
        if tail == mark {
            return Ok(written);
        }
    }
}

/// Register the link's socket as the master's client and serve it until
/// the link ends.
async fn serve_stream(shared: &Rc<Shared>, link: Link) -> Result<(), String> {
    let (stream, leftover) = link.into_parts();
    let stream = stream
        .into_std()
        .map_err(|e| format!("Cannot take over the master link: {e}"))?;
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let local = stream
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let fd = stream.as_raw_fd();
    // SAFETY: `stream` owns its open descriptor, which moves into the
    // AsyncFd and stays open, unchanged, for its whole lifetime.
    let io = unsafe { AsyncFd::register_with_interest(stream, tokio::io::Interest::READABLE) }
        .map_err(|e| format!("Cannot register the master link: {}", e.into_parts().1))?;
    let id = {
        let mut node = shared.node.borrow_mut();
        let id = node.connect(|c| {
            c.fd = fd;
            c.addr = peer;
            c.laddr = local;
        });
        if let Some(mut c) = node.clients.take(id) {
            node.master_client_attached(&mut c);
            node.clients.put(c);
        }
        id
    };
    let handle = Rc::new(writes::ConnHandle::new(fd));
    shared.conns.borrow_mut().insert(id, handle.clone());
    connection::serve_with_input(shared.clone(), io, id, handle, leftover).await;
    Ok(())
}

/// Buffered reads and writes on the link during the handshake and the
/// transfer, each with the `repl-timeout` deadline.
struct Link {
    stream: TcpStream,
    buf: Vec<u8>,
    pos: usize,
    timeout: Duration,
}

impl Link {
    fn new(stream: TcpStream, timeout: Duration) -> Link {
        Link {
            stream,
            buf: Vec::with_capacity(16 * 1024),
            pos: 0,
            timeout,
        }
    }

    async fn write_all(&mut self, bytes: &[u8]) -> Result<(), String> {
        tokio::time::timeout(self.timeout, self.stream.write_all(bytes))
            .await
            .map_err(|_| "Timeout writing to the MASTER".to_string())?
            .map_err(|e| format!("I/O error writing to MASTER: {e}"))
    }

    async fn send(&mut self, argv: &[&[u8]]) -> Result<(), String> {
        let mut out = Vec::new();
        encode_command(&mut out, argv);
        self.write_all(&out).await
    }

    /// Read more bytes into the buffer.
    async fn fill(&mut self) -> Result<(), String> {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = tokio::time::timeout(self.timeout, self.stream.read(&mut chunk))
            .await
            .map_err(|_| "Timeout connecting to the MASTER...".to_string())?
            .map_err(|e| format!("I/O error reading from MASTER: {e}"))?;
        if n == 0 {
            return Err("Master closed the connection during the sync".into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// One reply line; empty lines (the master's keep-alives) are skipped.
    async fn reply_line(&mut self) -> Result<String, String> {
        loop {
            if let Some(end) = self.buf[self.pos..].iter().position(|&b| b == b'\n') {
                let line = &self.buf[self.pos..self.pos + end];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let text = String::from_utf8_lossy(line).into_owned();
                self.pos += end + 1;
                if text.is_empty() {
                    continue;
                }
                return Ok(text);
            }
            if self.buf.len() - self.pos > MAX_LINE {
                return Err("Protocol error: too long reply line from MASTER".into());
            }
            self.fill().await?;
        }
    }

    /// Up to `max` bytes: buffered ones first, else a fresh read.
    async fn take_buffered(&mut self, max: usize) -> Result<Vec<u8>, String> {
        if self.pos == self.buf.len() {
            self.fill().await?;
        }
        let n = (self.buf.len() - self.pos).min(max);
        let out = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(out)
    }

    fn into_parts(self) -> (TcpStream, Vec<u8>) {
        let leftover = self.buf[self.pos..].to_vec();
        (self.stream, leftover)
    }
}

/// The transfer's temporary file, removed unless it became `dbfilename`.
struct TempFile(String);

impl TempFile {
    fn keep(mut self) {
        self.0.clear();
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// The dataset set aside during a load: put back if the task is cancelled
/// before the load ends (REPLICAOF elsewhere meanwhile).
struct Restorer {
    shared: Rc<Shared>,
    aside: Option<SetAside>,
}

impl Restorer {
    fn new(shared: Rc<Shared>, aside: SetAside) -> Restorer {
        Restorer {
            shared,
            aside: Some(aside),
        }
    }

    fn take(mut self) -> SetAside {
        self.aside.take().expect("taken once")
    }
}

impl Drop for Restorer {
    fn drop(&mut self) {
        if let Some(aside) = self.aside.take() {
            if let Ok(mut node) = self.shared.node.try_borrow_mut() {
                node.loading = None;
                node.abort_snapshot_load(aside);
            }
        }
    }
}

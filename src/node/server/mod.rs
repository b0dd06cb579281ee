//! The node's network side: listeners, connection tasks, the cron timer,
//! signals and orderly shutdown.
//!
//! Everything runs on one thread (a current-thread tokio runtime): the
//! [`Node`] lives in a `RefCell` shared by the tasks, each task borrows it
//! only between awaits, so commands execute one at a time in a single
//! global order, as in Redis. This module moves bytes and timers; all
//! decisions are the node's.
//!
//! The TCP listening sockets can move while the server runs (`CONFIG SET
//! port|bind`): the node asks through the [`Listeners`] handle it is lent,
//! new sockets are opened at once (so the command can fail and leave the
//! old ones serving), and the switch happens after the command's batch:
//! sockets no longer wanted are shut down before the reply is written, so
//! a client that reads OK already finds the old address closed.

mod connection;
pub mod logging;
mod replica_link;
mod startup;
mod writes;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::sync::Notify;

use crate::node::client::{Client, ClientId};
use crate::node::config::Config;
use crate::node::{Listeners, Node};

/// State shared by the server's tasks.
pub struct Shared {
    pub node: RefCell<Node>,
    /// Each connection task's wake-up signal.
    conns: RefCell<HashMap<ClientId, Rc<writes::ConnHandle>>>,
    /// Signalled when the node asks to shut down.
    shutdown: Notify,
    /// The TCP listeners, shared with the node's [`Listeners`] handle.
    tcp: Rc<RefCell<TcpListeners>>,
    /// The link to our master, when the node is a replica.
    link: RefCell<Option<replica_link::LinkTask>>,
    /// The task continuing an eviction run cut short is alive.
    evicting: Cell<bool>,
}

impl Shared {
    /// Wake the connections the node touched; notice a shutdown request;
    /// move the listeners if a command asked for it.
    pub fn after_node_work(self: &Rc<Self>) {
        if !self.evicting.get() && self.node.borrow().evict.proc_running {
            self.evicting.set(true);
            tokio::task::spawn_local(eviction_timer(self.clone()));
        }
        self.switch_listeners();
        replica_link::reconcile(self, &self.link);
        self.deliver_wakeups();
    }

    /// Wake the connections the node touched; notice a shutdown request.
    /// Safe outside the task set (the runtime's park hook).
    fn deliver_wakeups(&self) {
        let (wakeups, shutdown) = {
            let mut node = self.node.borrow_mut();
            (node.take_wakeups(), node.shutdown.is_some())
        };
        if !wakeups.is_empty() {
            let conns = self.conns.borrow();
            for id in wakeups {
                if let Some(h) = conns.get(&id) {
                    h.notify.notify_one();
                }
            }
        }
        if shutdown {
            self.shutdown.notify_one();
        }
    }

    /// The connection's handle, while it is connected.
    fn handle(&self, id: ClientId) -> Option<Rc<writes::ConnHandle>> {
        self.conns.borrow().get(&id).cloned()
    }

    /// Whether the connection must close now: killed, over a limit, or its
    /// last reply (QUIT, a protocol error) is out.
    fn must_close(&self, id: ClientId) -> bool {
        self.node
            .borrow()
            .clients
            .get(id)
            .is_none_or(|c| c.close_asap || (c.close_after_reply && c.reply.is_empty()))
    }

    fn count_input(&self, n: usize) {
        let mut node = self.node.borrow_mut();
        node.stats.total_net_input_bytes += n as u64;
        node.stats.total_reads_processed += 1;
    }

    fn disconnect(self: &Rc<Self>, id: ClientId) {
        self.conns.borrow_mut().remove(&id);
        self.node.borrow_mut().disconnect(id);
        self.after_node_work();
    }
}

/// A listening socket being served: its address and its accept task's
/// socket (shared with the task, so it can be shut down from here).
struct ActiveListener {
    addr: SocketAddr,
    socket: Rc<tokio::net::TcpListener>,
    stop: Rc<Notify>,
}

/// The TCP listening sockets: those served now, and a switch prepared by
/// [`Listeners::relisten`] for after the running batch.
struct TcpListeners {
    active: Vec<ActiveListener>,
    /// For each wanted address, a new socket, or `None` to keep the
    /// active one.
    pending: Option<Vec<(SocketAddr, Option<std::net::TcpListener>)>>,
    backlog: i32,
}

/// The node's handle on the listeners.
struct ListenerControl(Rc<RefCell<TcpListeners>>);

impl Listeners for ListenerControl {
    fn relisten(&mut self, port: u16, bind: &[String]) -> Result<(), String> {
        let mut tcp = self.0.borrow_mut();
        let current: Vec<SocketAddr> = tcp.active.iter().map(|l| l.addr).collect();
        // A failed plan drops the sockets it opened; a pending switch that
        // it would have replaced stays as it was.
        let plan = plan_listeners(port, bind, tcp.backlog, &current).map_err(|e| e.to_string())?;
        tcp.pending = Some(plan);
        Ok(())
    }
}

impl Shared {
    /// Serve `listener` (at `addr`) with an accept task.
    fn start_listener(self: &Rc<Self>, addr: SocketAddr, listener: std::net::TcpListener) {
        let socket = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => Rc::new(l),
            Err(e) => {
                tracing::warn!("Cannot register listener {addr}: {e}");
                return;
            }
        };
        let stop = Rc::new(Notify::new());
        self.tcp.borrow_mut().active.push(ActiveListener {
            addr,
            socket: socket.clone(),
            stop: stop.clone(),
        });
        tokio::task::spawn_local(accept_tcp(self.clone(), socket, stop));
    }

    /// Carry out a switch of listeners prepared during the last batch.
    fn switch_listeners(self: &Rc<Self>) {
        let Some(plan) = self.tcp.borrow_mut().pending.take() else {
            return;
        };
        let retired: Vec<ActiveListener> = {
            let mut tcp = self.tcp.borrow_mut();
            let (kept, retired) = std::mem::take(&mut tcp.active)
                .into_iter()
                .partition(|l| plan.iter().any(|(a, s)| *a == l.addr && s.is_none()));
            tcp.active = kept;
            retired
        };
        for l in retired {
            // Shutting a listening socket down makes the kernel refuse new
            // connections at once (Linux), before its task gets to run and
            // drop it.
            if let Err(e) = socket2::SockRef::from(&*l.socket).shutdown(std::net::Shutdown::Both) {
                tracing::debug!("Shutting down listener {}: {e}", l.addr);
            }
            l.stop.notify_one();
            tracing::info!("Stopped listening on {}", l.addr);
        }
        for (addr, socket) in plan {
            if let Some(socket) = socket {
                self.start_listener(addr, socket);
                tracing::info!("Listening on {addr}");
            }
        }
    }
}

/// Why listening sockets could not be opened.
#[derive(Debug)]
enum ListenError {
    InvalidAddress(String),
    Bind {
        addr: String,
        port: u16,
        err: std::io::Error,
    },
}

impl fmt::Display for ListenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenError::InvalidAddress(a) => write!(f, "Invalid bind address '{a}'"),
            ListenError::Bind { addr, port, err } => write!(
                f,
                "Warning: Could not create server TCP listening socket {addr}:{port}: {err}"
            ),
        }
    }
}

/// Why the server could not start or run.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The node as the metrics endpoint sees it.
struct NodeMetrics {
    shared: Rc<Shared>,
    /// Set once start-up has loaded the data and the node serves.
    ready: Rc<Cell<bool>>,
}

impl crate::util::metrics_http::Source for NodeMetrics {
    fn metrics(&self) -> String {
        self.shared.node.borrow().metrics()
    }

    /// Serving: start-up has loaded the data and the node is not loading
    /// again (DEBUG RELOAD, a replica's full resync answer -LOADING).
    fn healthy(&self) -> bool {
        let node = self.shared.node.borrow();
        self.ready.get() && node.loading.is_none()
    }
}

/// Run a node with `config` until it is shut down.
pub fn run(config: Config) -> Result<(), StartError> {
    logging::init(&config.settings);
    // A file-size limit (RLIMIT_FSIZE) must fail the write with EFBIG,
    // handled like a full disk, not kill the server.
    // SAFETY: installs SIG_IGN for one signal before any thread starts.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        // Redis's beforeSleep: replies go out when there is no more work.
        .on_thread_park(writes::before_sleep)
        .build()
        .map_err(|e| StartError(format!("cannot start the runtime: {e}")))?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, serve(config))
}

async fn serve(config: Config) -> Result<(), StartError> {
    let pid = std::process::id();
    tracing::warn!("oO0OoO0OoO0Oo Vigil is starting oO0OoO0OoO0Oo");
    tracing::warn!(
        "Vigil version={} (Redis {} compatible), bits=64, pid={pid}, just started",
        env!("CARGO_PKG_VERSION"),
        crate::node::REDIS_VERSION
    );
    match &config.file {
        Some(f) => tracing::warn!("Configuration loaded from {}", f.display()),
        None => tracing::warn!("No config file specified, using the default config. In order to specify a config file use vigil-server /path/to/redis.conf"),
    }
    let settings = config.settings.clone();
    let mut node = Node::new(config);
    node.process.executable = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let shared = Rc::new(Shared {
        node: RefCell::new(node),
        conns: RefCell::new(HashMap::new()),
        shutdown: Notify::new(),
        tcp: Rc::new(RefCell::new(TcpListeners {
            active: Vec::new(),
            pending: None,
            backlog: settings.tcp_backlog as i32,
        })),
        link: RefCell::new(None),
        evicting: Cell::new(false),
    });
    writes::install(&shared);

    let listeners = plan_listeners(
        settings.port as u16,
        &settings.bind.0,
        settings.tcp_backlog as i32,
        &[],
    )
    .map_err(|e| match e {
        ListenError::Bind { .. } => StartError(format!(
            "{e}. Is another server already running on this port? Choose another with --port <n>."
        )),
        other => StartError(other.to_string()),
    })?;
    if settings.port != 0 && listeners.is_empty() {
        return Err(StartError(
            "Failed listening on any address. Exiting.".into(),
        ));
    }
    let unix = bind_unix(&settings)?;
    // Bound with the other listeners, so a bad address stops start-up.
    let metrics = match settings.metrics_addr.as_str() {
        "" => None,
        addr => Some(crate::util::metrics_http::bind(addr).map_err(StartError)?),
    };
    tracing::info!(
        "Running mode=standalone, port={}, PID: {pid}",
        settings.port
    );
    if !settings.pidfile.is_empty() {
        if let Err(e) = std::fs::write(&settings.pidfile, format!("{pid}\n")) {
            tracing::warn!("Failed to write PID file {}: {e}", settings.pidfile);
        }
    }
    tracing::warn!("Server initialized");
    shared.node.borrow_mut().listeners = Some(Box::new(ListenerControl(shared.tcp.clone())));
    for (addr, listener) in listeners {
        if let Some(listener) = listener {
            shared.start_listener(addr, listener);
        }
    }
    if let Some(listener) = unix {
        tokio::task::spawn_local(accept_unix(shared.clone(), listener));
    }
    tokio::task::spawn_local(cron(shared.clone()));
    // Up before loading, so /health can answer 503 while the data loads.
    let ready = Rc::new(Cell::new(false));
    if let Some(listener) = metrics {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!("Serving metrics on http://{addr}/metrics");
        }
        let source = Rc::new(NodeMetrics {
            shared: shared.clone(),
            ready: ready.clone(),
        });
        tokio::task::spawn_local(crate::util::metrics_http::serve(listener, source));
    }
    // Handlers go in before "Ready": a supervisor may signal right after it.
    let signals = Signals::install();
    startup::load_data(&shared).await?;
    if let Some((host, port)) = &settings.replicaof.0 {
        shared.node.borrow_mut().replicate_from_config(host, *port);
        shared.after_node_work();
    }
    tracing::info!("Ready to accept connections tcp");
    ready.set(true);
    let maxmemory = settings.maxmemory;
    if maxmemory > 0 && maxmemory < 1024 * 1024 {
        tracing::warn!("WARNING: You specified a maxmemory value that is less than 1MB (current value is {maxmemory} bytes). Are you sure this is what you really want?");
    }

    signals.wait(&shared).await;
    if !settings.pidfile.is_empty() {
        let _ = std::fs::remove_file(&settings.pidfile);
    }
    if !settings.unixsocket.is_empty() {
        let _ = std::fs::remove_file(&settings.unixsocket);
    }
    tracing::warn!("Vigil is now ready to exit, bye bye...");
    Ok(())
}

/// SIGTERM and SIGINT, which shut the server down gracefully.
struct Signals {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn install() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        if term.is_none() || int.is_none() {
            tracing::warn!("Cannot install signal handlers; only SHUTDOWN will stop the server");
        }
        Signals { term, int }
    }

    /// Wait until the server must exit: a SHUTDOWN that succeeded, or a
    /// signal after which the shutdown preparations (the final snapshot)
    /// succeeded. If they fail, the server keeps running, as Redis does.
    async fn wait(mut self, shared: &Shared) {
        async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        loop {
            let (name, flags) = tokio::select! {
                _ = recv(&mut self.term) => ("SIGTERM", shared.node.borrow().config.settings.shutdown_on_sigterm),
                _ = recv(&mut self.int) => ("SIGINT", shared.node.borrow().config.settings.shutdown_on_sigint),
                _ = shared.shutdown.notified() => return,
            };
            tracing::warn!("Received {name} scheduling shutdown...");
            if shared.node.borrow_mut().prepare_for_shutdown(flags).is_ok() {
                return;
            }
            tracing::warn!("{name} received but errors trying to shut down the server, check the logs for more information");
        }
    }
}

/// Periodic work at `hz`.
async fn cron(shared: Rc<Shared>) {
    loop {
        let hz = shared.node.borrow().config.settings.hz.clamp(1, 500) as u64;
        tokio::time::sleep(Duration::from_micros(1_000_000 / hz)).await;
        shared.node.borrow_mut().cron();
        shared.after_node_work();
    }
}

/// Continue an eviction run that stopped at its time limit still over
/// maxmemory (Redis's `evictionTimeProc`, a timer due at once): one slice of
/// evictions per turn of the runtime, so clients are served in between,
/// until memory is under the limit or nothing is left to evict.
async fn eviction_timer(shared: Rc<Shared>) {
    loop {
        tokio::task::yield_now().await;
        let running = {
            let mut node = shared.node.borrow_mut();
            node.eviction_time_proc();
            node.evict.proc_running
        };
        shared.after_node_work();
        if !running {
            break;
        }
    }
    shared.evicting.set(false);
}

/// The sockets for listening on `port` at every `bind` address (`-addr`:
/// skip if unavailable): the address's socket in `current` is reused
/// (`None`), others are opened now. Port 0 means no TCP at all.
fn plan_listeners(
    port: u16,
    bind: &[String],
    backlog: i32,
    current: &[SocketAddr],
) -> Result<Vec<(SocketAddr, Option<std::net::TcpListener>)>, ListenError> {
    let mut plan: Vec<(SocketAddr, Option<std::net::TcpListener>)> = Vec::new();
    if port == 0 {
        return Ok(plan);
    }
    for spec in bind {
        let (optional, addr) = match spec.strip_prefix('-') {
            Some(a) => (true, a),
            None => (false, spec.as_str()),
        };
        let ip: IpAddr = match addr {
            "*" => IpAddr::from([0, 0, 0, 0]),
            "::*" => IpAddr::from([0u16; 8]),
            other => match other.parse() {
                Ok(ip) => ip,
                Err(_) => return Err(ListenError::InvalidAddress(other.to_string())),
            },
        };
        let sock_addr = SocketAddr::new(ip, port);
        let opened = if plan.iter().any(|(a, _)| *a == sock_addr) {
            Err(std::io::Error::from(std::io::ErrorKind::AddrInUse))
        } else if current.contains(&sock_addr) {
            plan.push((sock_addr, None));
            continue;
        } else {
            listen_tcp(sock_addr, backlog)
        };
        match opened {
            Ok(l) => plan.push((sock_addr, Some(l))),
            Err(e) if optional => tracing::debug!("Skipping optional bind address {addr}: {e}"),
            Err(err) => {
                return Err(ListenError::Bind {
                    addr: addr.to_string(),
                    port,
                    err,
                })
            }
        }
    }
    Ok(plan)
}

fn listen_tcp(addr: SocketAddr, backlog: i32) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

fn bind_unix(
    settings: &crate::node::config::Settings,
) -> Result<Option<std::os::unix::net::UnixListener>, StartError> {
    if settings.unixsocket.is_empty() {
        return Ok(None);
    }
    let path = &settings.unixsocket;
    let _ = std::fs::remove_file(path);
    let listener = std::os::unix::net::UnixListener::bind(path)
        .map_err(|e| StartError(format!("Failed opening Unix socket {path}: {e}")))?;
    if settings.unixsocketperm > 0 {
        use std::os::unix::fs::PermissionsExt;
        let perm = std::fs::Permissions::from_mode(settings.unixsocketperm as u32);
        std::fs::set_permissions(path, perm)
            .map_err(|e| StartError(format!("Failed to chmod Unix socket {path}: {e}")))?;
    }
    listener
        .set_nonblocking(true)
        .map_err(|e| StartError(e.to_string()))?;
    Ok(Some(listener))
}

/// Redis 7.0.15's refusal for a non-local client in protected mode, byte
/// for byte (networking.c `clientAcceptHandler`; later Redis versions
/// shortened it, but tools and operators of 7.0 see this text).
const DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Whether a TCP peer counts as local for protected mode and the
/// `enable-*-command local` settings. Redis 7.0 compares the peer's text
/// address with exactly `127.0.0.1` and `::1` (`islocalClient`), so
/// 127.0.0.2 or an IPv4-mapped `::ffff:127.0.0.1` are not local there
/// either.
fn is_local_peer(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4 == std::net::Ipv4Addr::LOCALHOST,
        IpAddr::V6(v6) => v6 == std::net::Ipv6Addr::LOCALHOST,
    }
}

/// The refusal for a new connection, if any: too many clients first,
/// then protected mode (a loopback peer, or any peer once a password is
/// set, is let in).
fn refusal(
    clients: usize,
    maxclients: i64,
    protected: bool,
    nopass: bool,
    local: bool,
) -> Option<&'static [u8]> {
    if clients as i64 >= maxclients {
        Some(b"-ERR max number of clients reached\r\n")
    } else if protected && nopass && !local {
        Some(DENIED)
    } else {
        None
    }
}

/// Accept connections on `listener` until `stop` is signalled.
async fn accept_tcp(shared: Rc<Shared>, listener: Rc<tokio::net::TcpListener>, stop: Rc<Notify>) {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.notified() => return,
            r = listener.accept() => r,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("Accepting client connection: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Ok(stream) = stream.into_std() else {
            continue;
        };
        let local = stream
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let loopback = is_local_peer(peer.ip());
        let _ = stream.set_nodelay(true);
        let keepalive = shared.node.borrow().config.settings.tcp_keepalive;
        if keepalive > 0 {
            let sock = socket2::SockRef::from(&stream);
            let ka = socket2::TcpKeepalive::new()
                .with_time(Duration::from_secs(keepalive as u64))
                .with_interval(Duration::from_secs((keepalive as u64 / 3).max(1)))
                .with_retries(3);
            let _ = sock.set_tcp_keepalive(&ka);
        }
        let addr = peer.to_string();
        admit(&shared, stream, loopback, |c| {
            c.addr = addr;
            c.laddr = local;
            c.local = loopback;
        });
    }
}

async fn accept_unix(shared: Rc<Shared>, listener: std::os::unix::net::UnixListener) {
    let listener = match tokio::net::UnixListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("Cannot register unix listener: {e}");
            return;
        }
    };
    let path = shared.node.borrow().config.settings.unixsocket.clone();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let Ok(stream) = stream.into_std() else {
            continue;
        };
        let path = path.clone();
        admit(&shared, stream, true, |c| {
            c.addr = format!("{path}:0");
            c.laddr = format!("{path}:0");
            c.unix_socket = true;
            c.local = true;
        });
    }
}

/// Register an accepted connection and start its task, unless a limit or
/// protected mode refuses it.
fn admit<S>(shared: &Rc<Shared>, mut stream: S, local: bool, setup: impl FnOnce(&mut Client))
where
    S: std::io::Write + std::os::fd::AsRawFd + 'static,
{
    let refusal: Option<&[u8]> = {
        let mut node = shared.node.borrow_mut();
        let s = &node.config.settings;
        let answer = refusal(
            node.clients.len(),
            s.maxclients,
            s.protected_mode,
            s.requirepass.is_empty(),
            local,
        );
        if answer.is_some() {
            node.stats.rejected_connections += 1;
        }
        answer
    };
    if let Some(message) = refusal {
        let _ = stream.write(message);
        return;
    }
    let fd = stream.as_raw_fd();
    // SAFETY: `stream` owns its open descriptor and moves into the AsyncFd,
    // which therefore keeps it open, unchanged, for its whole lifetime.
    let io = match unsafe { AsyncFd::register_with_interest(stream, tokio::io::Interest::READABLE) }
    {
        Ok(io) => io,
        Err(e) => {
            tracing::warn!("Cannot register client socket: {e}");
            return;
        }
    };
    let id = shared.node.borrow_mut().connect(|c| {
        c.fd = fd;
        setup(c);
    });
    let handle = Rc::new(writes::ConnHandle::new(fd));
    shared.conns.borrow_mut().insert(id, handle.clone());
    tokio::task::spawn_local(connection::serve(shared.clone(), io, id, handle));
}

#[cfg(test)]
mod tests {
    use super::{is_local_peer, refusal, DENIED};

    #[test]
    fn only_exact_loopback_addresses_are_local_as_in_redis_7_0() {
        assert!(is_local_peer("127.0.0.1".parse().unwrap()));
        assert!(is_local_peer("::1".parse().unwrap()));
        assert!(!is_local_peer("127.0.0.2".parse().unwrap()));
        assert!(!is_local_peer("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_local_peer("10.1.2.3".parse().unwrap()));
    }

    #[test]
    fn protected_mode_refuses_remote_peers_only_without_a_password() {
        assert_eq!(refusal(0, 10, true, true, false), Some(DENIED));
        assert_eq!(refusal(0, 10, true, true, true), None);
        assert_eq!(refusal(0, 10, true, false, false), None);
        assert_eq!(refusal(0, 10, false, true, false), None);
        // maxclients is checked first.
        assert_eq!(
            refusal(10, 10, true, true, false),
            Some(&b"-ERR max number of clients reached\r\n"[..])
        );
        assert!(DENIED.starts_with(b"-DENIED Redis is running in protected mode"));
        assert!(DENIED.ends_with(b"accepting connections from the outside.\r\n"));
        assert_eq!(DENIED.len(), 1067);
    }
}

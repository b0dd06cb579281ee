//! The monitor's connections to nodes and peer monitors (the `redis`
//! crate), carrying out the core's actions and feeding what comes back
//! into it: link state, PING and INFO replies, hellos heard on the nodes'
//! `__sentinel__:hello` channel, peers' answers to `is-master-down-by-addr`.
//!
//! Per node there is a command connection and a subscriber connection;
//! per peer a command connection only (spec/sentinel.md 1.8, 2.1). Every
//! reply is handled when it arrives, at that moment's time; the core never
//! waits on the network. Everything runs on the caller's `LocalSet`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;

use super::core::hello::CHANNEL;
use super::core::report::LinkFacts;
use super::core::{Action, Core, Event, Input, Target};

/// What the links report besides feeding the core.
pub trait Observer {
    /// An event to publish and log.
    fn event(&self, event: &Event);
    /// The learnt state changed and must be saved now; false if it could
    /// not be written.
    fn persist(&self, core: &Core) -> bool;
    /// Queue a script (path first).
    fn run_script(&self, argv: Vec<String>);
}

/// Credentials for a link: a master's `auth-user`/`auth-pass` for it and
/// its replicas, `sentinel-user`/`sentinel-pass` for peers.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    pub user: Option<String>,
    pub pass: Option<String>,
}

struct Link {
    cmd: MultiplexedConnection,
    /// Our address as seen on this link's route (the hello's ip field
    /// when no `announce-ip` is set).
    local_ip: String,
    pubsub: Option<tokio::task::JoinHandle<()>>,
    /// Commands sent on `cmd` still awaiting their reply.
    pending: Rc<Cell<u32>>,
    /// Dropped with the link: commands still waiting give up, so a link
    /// to a frozen node does not outlive its replacement.
    _closed: tokio::sync::watch::Sender<()>,
    closing: tokio::sync::watch::Receiver<()>,
}

/// PING, INFO and hellos are skipped while a link has this many commands
/// unanswered (spec 1.1).
const MAX_PENDING_COMMANDS: u32 = 100;

/// One command awaiting its reply: counted while alive.
struct InFlight {
    count: Rc<Cell<u32>>,
    closing: tokio::sync::watch::Receiver<()>,
}

impl InFlight {
    fn new(link: &Link) -> InFlight {
        link.pending.set(link.pending.get() + 1);
        InFlight {
            count: link.pending.clone(),
            closing: link.closing.clone(),
        }
    }

    /// The reply, or `None` if the link was dropped first.
    async fn reply<T>(mut self, query: impl std::future::Future<Output = T>) -> Option<T> {
        tokio::select! {
            reply = query => Some(reply),
            _ = self.closing.changed() => None,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.count.set(self.count.get().saturating_sub(1));
    }
}

/// The core and its links.
pub struct Links {
    pub core: RefCell<Core>,
    links: RefCell<HashMap<Target, Link>>,
    /// Targets with a connection attempt under way.
    connecting: RefCell<Vec<Target>>,
    observer: Box<dyn Observer>,
    /// Time source (Unix ms): the daemon's clock, or a test's.
    now: Box<dyn Fn() -> i64>,
}

impl Links {
    pub fn new(core: Core, observer: Box<dyn Observer>, now: Box<dyn Fn() -> i64>) -> Rc<Links> {
        Rc::new(Links {
            core: RefCell::new(core),
            links: RefCell::new(HashMap::new()),
            connecting: RefCell::new(Vec::new()),
            observer,
            now,
        })
    }

    /// Save the state now (commands that change settings reply after
    /// it); false if it could not be written.
    pub fn persist(&self, core: &Core) -> bool {
        self.observer.persist(core)
    }

    /// Publish and log an event that does not come from the core.
    pub fn report(&self, e: &Event) {
        self.observer.event(e);
    }

    /// `command` for `t`, under the name its master's `rename-command`
    /// table gives it.
    fn cmd(&self, t: &Target, command: &str) -> redis::Cmd {
        let core = self.core.borrow();
        match core.masters.get(t.master()) {
            Some(m) => redis::cmd(m.command_name(command)),
            None => redis::cmd(command),
        }
    }

    /// Feed an input to the core now and carry out what it decides.
    pub fn feed(self: &Rc<Self>, input: Input) {
        let now = (self.now)();
        let actions = {
            let mut core = self.core.borrow_mut();
            core.handle(now, input);
            core.take_actions()
        };
        self.run_actions(actions);
    }

    /// The timer.
    pub fn tick(self: &Rc<Self>) {
        self.feed(Input::Tick);
    }

    /// Carry out actions the core decided (also those a command caused).
    pub fn run_actions(self: &Rc<Self>, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Connect(t, host, port) => self.connect(t, host, port),
                Action::Disconnect(t) => {
                    self.drop_link(&t);
                }
                Action::Ping(t) => self.ping(t),
                Action::Info(t) => self.info(t),
                Action::Hello { target, ip, rest } => self.publish_hello(target, ip, rest),
                Action::AskMasterDown {
                    target,
                    ip,
                    port,
                    epoch,
                    runid,
                } => self.ask(target, ip, port, epoch, runid),
                Action::Persist => {
                    self.observer.persist(&self.core.borrow());
                }
                Action::Event(e) => self.observer.event(&e),
                Action::RunScript(argv) => self.observer.run_script(argv),
                Action::SlaveOf { target, master } => self.slaveof(target, master),
                Action::HandOver {
                    master,
                    to,
                    timeout_ms,
                } => self.hand_over(master, to, timeout_ms),
                Action::SimulatedCrash => {
                    tracing::warn!("Sentinel CRASH because of SENTINEL simulate-failure");
                    std::process::exit(99);
                }
            }
        }
    }

    /// The command connection to `t`, and the count of the command about
    /// to be sent on it; `None` when there is no link, or when `periodic`
    /// and the link already has too many commands unanswered.
    fn command(&self, t: &Target, periodic: bool) -> Option<(MultiplexedConnection, InFlight)> {
        let links = self.links.borrow();
        let link = links.get(t)?;
        if periodic && link.pending.get() >= MAX_PENDING_COMMANDS {
            return None;
        }
        Some((link.cmd.clone(), InFlight::new(link)))
    }

    /// What the instance maps report about the link to `t`.
    pub fn link_facts(&self, t: &Target) -> LinkFacts {
        LinkFacts {
            pending_commands: self.links.borrow().get(t).map_or(0, |l| l.pending.get()),
            refcount: 1,
        }
    }

    /// Forget a link; tell the core if it was up.
    fn drop_link(self: &Rc<Self>, t: &Target) -> bool {
        let Some(link) = self.links.borrow_mut().remove(t) else {
            return false;
        };
        if let Some(task) = link.pubsub {
            task.abort();
        }
        true
    }

    fn lost(self: &Rc<Self>, t: Target) {
        if self.drop_link(&t) {
            self.feed(Input::LinkDown(t));
        }
    }

    fn connect(self: &Rc<Self>, t: Target, host: String, port: u16) {
        if self.links.borrow().contains_key(&t) || self.connecting.borrow().contains(&t) {
            return;
        }
        self.connecting.borrow_mut().push(t.clone());
        let me = self.clone();
        let (auth, name8, setname) = {
            let core = self.core.borrow();
            let auth = match (&t, core.masters.get(t.master())) {
                (Target::Sentinel(..), _) => Auth {
                    user: core.globals.sentinel_user.clone(),
                    pass: core.globals.sentinel_pass.clone(),
                },
                (_, Some(m)) => Auth {
                    user: m.auth_user.clone(),
                    pass: m.auth_pass.clone(),
                },
                (_, None) => Auth::default(),
            };
            let name8: String = core.id.myid.chars().take(8).collect();
            (auth, name8, self.cmd(&t, "CLIENT"))
        };
        tokio::task::spawn_local(async move {
            let opened = open(
                &host,
                port,
                &auth,
                setname,
                &format!("sentinel-{name8}-cmd"),
            )
            .await;
            me.connecting.borrow_mut().retain(|c| c != &t);
            let Ok((client, cmd)) = opened else {
                return;
            };
            let pubsub = match &t {
                Target::Sentinel(..) => None,
                _ => Some(tokio::task::spawn_local(listen_hellos(
                    me.clone(),
                    t.clone(),
                    client,
                ))),
            };
            let local_ip = local_ip_towards(&host, port);
            let (closed, closing) = tokio::sync::watch::channel(());
            me.links.borrow_mut().insert(
                t.clone(),
                Link {
                    cmd,
                    local_ip,
                    pubsub,
                    pending: Rc::new(Cell::new(0)),
                    _closed: closed,
                    closing,
                },
            );
            me.feed(Input::LinkUp(t));
        });
    }

    fn ping(self: &Rc<Self>, t: Target) {
        let Some((mut conn, in_flight)) = self.command(&t, true) else {
            return;
        };
        let me = self.clone();
        let ping = self.cmd(&t, "PING");
        tokio::task::spawn_local(async move {
            let Some(reply): Option<redis::RedisResult<redis::Value>> =
                in_flight.reply(ping.query_async(&mut conn)).await
            else {
                return;
            };
            match reply {
                Ok(v) => me.feed(Input::PingReply(t, value_text(&v))),
                Err(e) if is_link_failure(&e) => me.lost(t),
                Err(e) => me.feed(Input::PingReply(t, error_text(&e))),
            }
        });
    }

    fn info(self: &Rc<Self>, t: Target) {
        let Some((mut conn, in_flight)) = self.command(&t, true) else {
            return;
        };
        let me = self.clone();
        let info = self.cmd(&t, "INFO");
        tokio::task::spawn_local(async move {
            let Some(reply): Option<redis::RedisResult<String>> =
                in_flight.reply(info.query_async(&mut conn)).await
            else {
                return;
            };
            match reply {
                Ok(text) => me.feed(Input::InfoReply(t, text)),
                Err(e) if is_link_failure(&e) => me.lost(t),
                Err(_) => {}
            }
        });
    }

    fn publish_hello(self: &Rc<Self>, t: Target, ip: Option<String>, rest: String) {
        let Some((mut conn, in_flight)) = self.command(&t, true) else {
            return;
        };
        let ip = ip.unwrap_or_else(|| {
            self.links
                .borrow()
                .get(&t)
                .map(|l| l.local_ip.clone())
                .unwrap_or_default()
        });
        let me = self.clone();
        let mut publish = self.cmd(&t, "PUBLISH");
        tokio::task::spawn_local(async move {
            publish.arg(CHANNEL).arg(format!("{ip},{rest}"));
            let Some(reply): Option<redis::RedisResult<redis::Value>> =
                in_flight.reply(publish.query_async(&mut conn)).await
            else {
                return;
            };
            if let Err(e) = reply {
                if is_link_failure(&e) {
                    me.lost(t);
                }
            }
        });
    }

    /// The role-change transaction, pipelined in one write, every command
    /// name through the rename table (spec 4.3). The replies are not
    /// inspected: the INFO that follows tells what happened.
    fn slaveof(self: &Rc<Self>, t: Target, master: Option<(String, u16)>) {
        let Some((mut conn, in_flight)) = self.command(&t, false) else {
            return;
        };
        let mut slaveof = self.cmd(&t, "SLAVEOF");
        match &master {
            Some((host, port)) => slaveof.arg(host).arg(*port),
            None => slaveof.arg("NO").arg("ONE"),
        };
        let mut rewrite = self.cmd(&t, "CONFIG");
        rewrite.arg("REWRITE");
        let mut kill_normal = self.cmd(&t, "CLIENT");
        kill_normal.arg("KILL").arg("TYPE").arg("normal");
        let mut kill_pubsub = self.cmd(&t, "CLIENT");
        kill_pubsub.arg("KILL").arg("TYPE").arg("pubsub");
        let mut pipe = redis::pipe();
        pipe.add_command(self.cmd(&t, "MULTI"))
            .add_command(slaveof)
            .add_command(rewrite)
            .add_command(kill_normal)
            .add_command(kill_pubsub)
            .add_command(self.cmd(&t, "EXEC"));
        let me = self.clone();
        tokio::task::spawn_local(async move {
            let Some(reply): Option<redis::RedisResult<Vec<redis::Value>>> =
                in_flight.reply(pipe.query_async(&mut conn)).await
            else {
                return;
            };
            if let Err(e) = reply {
                if is_link_failure(&e) {
                    me.lost(t);
                }
            }
        });
    }

    /// `FAILOVER TO <host> <port> TIMEOUT <ms>` to the master; its reply
    /// goes back to the core.
    fn hand_over(self: &Rc<Self>, master: String, to: (String, u16), timeout_ms: i64) {
        let t = Target::Master(master.clone());
        let Some((mut conn, in_flight)) = self.command(&t, false) else {
            self.feed(Input::HandOverReply(
                master,
                Err("no link to the master".into()),
            ));
            return;
        };
        let mut failover = self.cmd(&t, "FAILOVER");
        failover
            .arg("TO")
            .arg(&to.0)
            .arg(to.1)
            .arg("TIMEOUT")
            .arg(timeout_ms.max(1));
        let me = self.clone();
        tokio::task::spawn_local(async move {
            let Some(reply): Option<redis::RedisResult<redis::Value>> =
                in_flight.reply(failover.query_async(&mut conn)).await
            else {
                return;
            };
            let result = match reply {
                Ok(_) => Ok(()),
                Err(e) => Err(error_text(&e)),
            };
            me.feed(Input::HandOverReply(master, result));
        });
    }

    fn ask(self: &Rc<Self>, t: Target, ip: String, port: u16, epoch: u64, runid: String) {
        let Some((mut conn, in_flight)) = self.command(&t, false) else {
            return;
        };
        let me = self.clone();
        let mut sentinel = self.cmd(&t, "SENTINEL");
        tokio::task::spawn_local(async move {
            sentinel
                .arg("is-master-down-by-addr")
                .arg(ip)
                .arg(port)
                .arg(epoch)
                .arg(runid);
            let Some(reply): Option<redis::RedisResult<redis::Value>> =
                in_flight.reply(sentinel.query_async(&mut conn)).await
            else {
                return;
            };
            match reply {
                // Only the exact shape counts (spec 3.3): integer, bulk, integer.
                Ok(redis::Value::Array(items)) => {
                    if let [redis::Value::Int(down), redis::Value::BulkString(leader), redis::Value::Int(epoch)] =
                        items.as_slice()
                    {
                        me.feed(Input::MasterDownReply {
                            target: t,
                            down: *down == 1,
                            leader: String::from_utf8_lossy(leader).into_owned(),
                            leader_epoch: (*epoch).max(0) as u64,
                        });
                    }
                }
                Err(e) if is_link_failure(&e) => me.lost(t),
                _ => {}
            }
        });
    }
}

/// Connect, authenticate and name the connection.
async fn open(
    host: &str,
    port: u16,
    auth: &Auth,
    mut setname: redis::Cmd,
    name: &str,
) -> redis::RedisResult<(redis::Client, MultiplexedConnection)> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        // A frozen node must not fail requests: unanswered PINGs are what
        // makes it subjectively down.
        .set_response_timeout(None);
    let mut client = client_for(host, port, auth)?;
    let mut conn = match client
        .get_multiplexed_async_connection_with_config(&config)
        .await
    {
        Ok(conn) => conn,
        // redis-sentinel sends AUTH and ignores the answer: a node that
        // refuses the credentials is still watched (and, if it does need
        // them, answers PING with -NOAUTH, which counts as no reply).
        Err(e) if !e.is_io_error() && !e.is_connection_refusal() && !e.is_timeout() => {
            client = client_for(host, port, &Auth::default())?;
            client
                .get_multiplexed_async_connection_with_config(&config)
                .await?
        }
        Err(e) => return Err(e),
    };
    let _: redis::RedisResult<redis::Value> = setname
        .arg("SETNAME")
        .arg(name)
        .query_async(&mut conn)
        .await;
    Ok((client, conn))
}

fn client_for(host: &str, port: u16, auth: &Auth) -> redis::RedisResult<redis::Client> {
    // No CLIENT SETINFO: Redis 7.0 and its Sentinels do not know it.
    let mut info = redis::RedisConnectionInfo::default().set_skip_set_lib_name();
    if let Some(user) = &auth.user {
        info = info.set_username(user);
    }
    if let Some(pass) = &auth.pass {
        info = info.set_password(pass);
    }
    let addr = redis::ConnectionAddr::Tcp(host.to_string(), port);
    redis::Client::open(
        redis::IntoConnectionInfo::into_connection_info(addr)?.set_redis_settings(info),
    )
}

/// The subscriber link of a node: every hello heard goes to the core.
/// When the node closes it — a role-change transaction's `CLIENT KILL TYPE
/// pubsub` does, on purpose — it is reopened on its own, leaving the
/// command link and the replies it waits for (the INFO that shows a
/// promotion) alone; a node that is gone is noticed by the command link,
/// which drops both. (redis-sentinel names this link
/// `sentinel-<id8>-pubsub`; the crate's pub/sub connection cannot send
/// CLIENT SETNAME before subscribing.)
async fn listen_hellos(links: Rc<Links>, t: Target, client: redis::Client) {
    let mut failures = 0u64;
    loop {
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(CHANNEL).await?;
            redis::RedisResult::Ok(pubsub)
        }
        .await;
        match subscribed {
            Ok(pubsub) => {
                failures = 0;
                let mut messages = pubsub.into_on_message();
                while let Some(msg) = messages.next().await {
                    if msg.get_channel_name() == CHANNEL {
                        let payload = String::from_utf8_lossy(msg.get_payload_bytes()).into_owned();
                        links.feed(Input::HelloOn(t.clone(), payload));
                    }
                }
            }
            Err(_) => {
                failures += 1;
                if failures >= 3 {
                    links.lost(t);
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50 * (failures + 1))).await;
    }
}

/// The local address the kernel would use towards `host:port` (no packet
/// is sent: a UDP socket is only "connected" to pick the route).
fn local_ip_towards(host: &str, port: u16) -> String {
    let probe = || -> std::io::Result<String> {
        let bind = if host.contains(':') {
            "[::]:0"
        } else {
            "0.0.0.0:0"
        };
        let s = std::net::UdpSocket::bind(bind)?;
        s.connect((host, port))?;
        Ok(s.local_addr()?.ip().to_string())
    };
    probe().unwrap_or_else(|_| "127.0.0.1".into())
}

fn is_link_failure(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal()
}

/// A reply as the text the core matches (`PONG`, `LOADING ...`).
fn value_text(v: &redis::Value) -> String {
    match v {
        redis::Value::SimpleString(s) => s.clone(),
        redis::Value::Okay => "OK".into(),
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        other => format!("{other:?}"),
    }
}

fn error_text(e: &redis::RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_string(),
        _ => e.to_string(),
    }
}

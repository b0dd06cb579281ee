//! The `vigil-sentinel` daemon: reads its configuration (YAML, or a
//! redis-sentinel `sentinel.conf` in drop-in mode) and its learnt state,
//! then runs the core on a timer with its links, serves clients, logs and
//! publishes events, and persists the state whenever the core asks.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::{broadcast, Notify};

use super::config::Config;
use super::core::{Core, Event, Level};
use super::info::Process;
use super::links::{Links, Observer};
use super::metrics::{Failovers, Metrics};
use super::scripts::Scripts;
use super::server::{self, Published};
use super::state::State;
use super::{conf, config, event_log, startup};

/// What the command line asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub file: PathBuf,
    pub port: Option<u16>,
    pub bind: Option<Vec<String>>,
    pub dir: Option<PathBuf>,
    /// `--metrics-addr host:port`: serve Prometheus metrics there.
    pub metrics_addr: Option<String>,
}

/// Where the learnt state is written.
#[derive(Debug, Clone)]
enum Files {
    /// `<dir>/vigil-sentinel.state`; the YAML is never written.
    Yaml(PathBuf),
    /// Drop-in mode: the `sentinel.conf` itself, rewritten.
    Conf(PathBuf),
}

/// The running monitor, shared by its tasks.
pub struct Daemon {
    pub links: Rc<Links>,
    pub scripts: Rc<Scripts>,
    pub events: broadcast::Sender<Published>,
    pub requirepass: Option<String>,
    /// The endpoint's clients, counters and ACL log.
    pub endpoint: server::Endpoint,
    stop: Notify,
}

impl Daemon {
    /// `SHUTDOWN`: stop after the current work.
    pub fn shutdown(&self) {
        self.stop.notify_one();
    }
}

/// Saves the state and publishes events for the links.
struct Keeper {
    config: Config,
    files: Files,
    previous: RefCell<State>,
    events: broadcast::Sender<Published>,
    scripts: Rc<Scripts>,
    failovers: Rc<RefCell<Failovers>>,
}

impl Observer for Keeper {
    fn event(&self, e: &Event) {
        self.failovers
            .borrow_mut()
            .observe(e, std::time::Instant::now());
        event_log::log(e);
        // Debug-level events are logged, never published (spec 5.2).
        if Level::of(e.name) != Level::Debug {
            let _ = self.events.send((e.name.to_string(), e.payload.clone()));
        }
    }

    fn run_script(&self, argv: Vec<String>) {
        self.scripts.schedule(argv);
    }

    fn persist(&self, core: &Core) -> bool {
        let state = startup::state_of(core, &self.config, &self.previous.borrow());
        let current = startup::config_of(core, &self.config);
        let saved = save(&self.files, &current, &state);
        *self.previous.borrow_mut() = state;
        match saved {
            Ok(()) => true,
            Err(e) => {
                tracing::error!("Could not save the monitor's state: {e}");
                false
            }
        }
    }
}

fn save(files: &Files, config: &Config, state: &State) -> std::io::Result<()> {
    match files {
        Files::Yaml(dir) => state.save(dir),
        Files::Conf(path) => {
            let original = std::fs::read_to_string(path)?;
            let text = conf::rewrite(&original, config, state);
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("sentinel.conf");
            crate::util::files::replace_atomically(dir, name, &format!("{name}.tmp"), |out| {
                std::io::Write::write_all(out, text.as_bytes())
            })
        }
    }
}

fn unix_ms() -> i64 {
    crate::node::unix_ms()
}

/// Load everything and run until SHUTDOWN or a signal.
pub fn run(opts: Options) -> Result<(), String> {
    let source = opts.file.display().to_string();
    let text = std::fs::read_to_string(&opts.file)
        .map_err(|e| format!("Cannot read the configuration {source}: {e}"))?;
    let (mut config, state, files, fresh) = if conf::is_sentinel_conf(&opts.file, &text) {
        let p = conf::parse(&text, &source).map_err(|e| e.to_string())?;
        for w in &p.warnings {
            tracing::warn!("{w}");
        }
        (
            p.config,
            Some(p.state),
            Files::Conf(opts.file.clone()),
            p.fresh_id,
        )
    } else {
        let (c, warnings) = config::parse(&text, &source).map_err(|e| e.to_string())?;
        for w in &warnings {
            tracing::warn!("{w}");
        }
        let dir = opts.dir.clone().unwrap_or_else(|| c.dir.clone());
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("Cannot create the state directory {}: {e}", dir.display()))?;
        let state = State::load(&dir).map_err(|e| e.to_string())?;
        let fresh = state.is_none();
        (c, state, Files::Yaml(dir), fresh)
    };
    if let Some(port) = opts.port {
        config.port = port;
    }
    if let Some(bind) = &opts.bind {
        config.bind = bind.clone();
    }
    // Bound before anything runs, so a bad address stops start-up.
    let metrics = opts
        .metrics_addr
        .as_deref()
        .map(crate::util::metrics_http::bind)
        .transpose()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let local = tokio::task::LocalSet::new();
    let process = Process::new(&opts.file, config.port);
    local.block_on(
        &runtime,
        serve(config, state, files, fresh, process, metrics),
    )
}

async fn serve(
    config: Config,
    state: Option<State>,
    files: Files,
    fresh: bool,
    process: Process,
    metrics: Option<std::net::TcpListener>,
) -> Result<(), String> {
    let (mut core, state, notes) = startup::build_core(&config, state, unix_ms());
    for n in notes {
        tracing::warn!("{n}");
    }
    core.seed_jitter(rand::thread_rng().gen());
    let mut listeners = Vec::new();
    for addr in &config.bind {
        let listener = tokio::net::TcpListener::bind((addr.as_str(), config.port))
            .await
            .map_err(|e| {
                format!(
                    "Could not listen on {addr}:{}: {e}. Is another monitor running on this port? Choose another with --port <n>.",
                    config.port
                )
            })?;
        listeners.push(listener);
    }
    let (events, _) = broadcast::channel(1024);
    let scripts = Rc::new(Scripts::default());
    let failovers = Rc::new(RefCell::new(Failovers::default()));
    let keeper = Keeper {
        config: config.clone(),
        files,
        previous: RefCell::new(state),
        events: events.clone(),
        scripts: scripts.clone(),
        failovers: failovers.clone(),
    };
    let links = Links::new(core, Box::new(keeper), Box::new(unix_ms));
    let daemon = Rc::new(Daemon {
        links: links.clone(),
        scripts: scripts.clone(),
        events,
        requirepass: config.requirepass.clone(),
        endpoint: server::Endpoint::new(process),
        stop: Notify::new(),
    });
    tracing::warn!("Sentinel ID is {}", links.core.borrow().id.myid);
    // The +monitor events, and the first save of a new id.
    let mut first = links.core.borrow_mut().take_actions();
    if fresh {
        first.push(super::core::Action::Persist);
    }
    links.run_actions(first);
    for listener in listeners {
        tokio::task::spawn_local(server::serve(daemon.clone(), listener));
    }
    if let Some(listener) = metrics {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!("Serving metrics on http://{addr}/metrics");
        }
        let source = Rc::new(Metrics {
            daemon: daemon.clone(),
            failovers,
        });
        tokio::task::spawn_local(crate::util::metrics_http::serve(listener, source));
    }
    tracing::info!(
        "Running mode=sentinel, port={}, PID: {}",
        config.port,
        std::process::id()
    );
    tracing::info!("Ready to accept connections tcp");
    let timer = tokio::task::spawn_local(timer(daemon.clone()));
    wait_for_stop(&daemon).await;
    timer.abort();
    links.run_actions(vec![super::core::Action::Persist]);
    tracing::warn!("Sentinel is now ready to exit, bye bye...");
    Ok(())
}

/// The timer, at a random 10–19 Hz redrawn every tick (spec 1.3, 1.5);
/// it also samples the endpoint's instantaneous metrics.
async fn timer(daemon: Rc<Daemon>) {
    loop {
        let hz: u32 = rand::thread_rng().gen_range(10..20);
        daemon.endpoint.hz.set(hz);
        tokio::time::sleep(Duration::from_millis(1000 / hz as u64)).await;
        daemon.links.tick();
        daemon.endpoint.stats.borrow_mut().sample(unix_ms());
        let timing = daemon.links.core.borrow().timing.clone();
        for e in daemon.scripts.tick(unix_ms(), &timing) {
            daemon.links.report(&e);
        }
    }
}

async fn wait_for_stop(daemon: &Daemon) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
        match s {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    }
    tokio::select! {
        _ = recv(&mut term) => tracing::warn!("Received SIGTERM scheduling shutdown..."),
        _ = recv(&mut int) => tracing::warn!("Received SIGINT scheduling shutdown..."),
        _ = daemon.stop.notified() => tracing::warn!("User requested shutdown..."),
    }
}

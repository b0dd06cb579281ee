//! `vigil-sentinel --config sentinel.yaml`: the high-availability monitor.
//! Also `vigil-sentinel /etc/redis/sentinel.conf` (drop-in for
//! redis-sentinel: its file is read and kept up to date as it would be).
//! `vigil-sentinel topology --sentinel host:port ...` prints the live
//! topology as running monitors see it (`vigil::sentinel::topology`).

use std::path::PathBuf;

use std::io::{IsTerminal, Write};
use std::time::Duration;

use clap::{Parser, Subcommand};
use vigil::sentinel::daemon::{run, Options};
use vigil::sentinel::topology;

/// A Sentinel-compatible monitor that watches Redis-protocol masters and
/// their replicas, detects failures, and answers redis-cli.
#[derive(Parser, Debug)]
#[command(
    name = "vigil-sentinel",
    version,
    args_conflicts_with_subcommands = true
)]
struct Args {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// The configuration: YAML (see sentinel.yaml), or a redis-sentinel
    /// `sentinel.conf` in drop-in mode.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// The configuration given without --config.
    #[arg(value_name = "FILE", conflicts_with = "config")]
    file: Option<PathBuf>,
    /// Port to listen on (overrides the file).
    #[arg(long)]
    port: Option<u16>,
    /// Addresses to listen on (overrides the file).
    #[arg(long, value_delimiter = ',')]
    bind: Option<Vec<String>>,
    /// Directory of the state file (overrides the YAML's `dir`).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Serve Prometheus metrics (GET /metrics) and a health check
    /// (GET /health) over HTTP on this host:port.
    #[arg(long, value_name = "HOST:PORT")]
    metrics_addr: Option<String>,
    /// Log line format.
    #[arg(long, value_parser = ["text", "json"], default_value = "text")]
    log_format: String,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Print the live topology (masters, replicas, peer monitors) as the
    /// monitors see it, with their disagreements marked `!`.
    Topology {
        /// A monitor to ask (repeatable); 127.0.0.1:26379 if none.
        #[arg(long = "sentinel", value_name = "HOST:PORT")]
        sentinels: Vec<String>,
        /// Refresh until Ctrl-C.
        #[arg(long)]
        watch: bool,
        /// Time between refreshes with --watch (`1s`, `500ms`).
        #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
        interval: Duration,
    },
}

/// `topology`: one snapshot, or a refresh loop with --watch. Exit code 1
/// when no monitor answered a single snapshot.
fn topology_command(mut sentinels: Vec<String>, watch: bool, interval: Duration) -> ! {
    if sentinels.is_empty() {
        sentinels.push("127.0.0.1:26379".into());
    }
    let tty = std::io::stdout().is_terminal();
    let mut out = std::io::stdout();
    loop {
        let snap = topology::fetch(&sentinels);
        let text = topology::render(&snap, tty);
        if !watch {
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
            if snap.none_reachable() {
                eprintln!(
                    "vigil-sentinel topology: no monitor reachable (asked {})",
                    sentinels.join(", ")
                );
                std::process::exit(1);
            }
            std::process::exit(0);
        }
        // On a terminal the view is redrawn in place; a pipe or a file
        // gets successive snapshots, each after a timestamp line.
        let header = if tty {
            "\x1b[H\x1b[2J".to_string()
        } else {
            format!(
                "--- {} ---\n",
                humantime::format_rfc3339_seconds(std::time::SystemTime::now())
            )
        };
        if out.write_all(header.as_bytes()).is_err()
            || out.write_all(text.as_bytes()).is_err()
            || out.flush().is_err()
        {
            // The reader went away (a closed pipe): nothing left to show.
            std::process::exit(0);
        }
        std::thread::sleep(interval);
    }
}

fn main() {
    let args = Args::parse();
    if let Some(Cmd::Topology {
        sentinels,
        watch,
        interval,
    }) = args.command
    {
        topology_command(sentinels, watch, interval);
    }
    let json = args.log_format == "json";
    // Colour only for a terminal: a log file or a pipe gets plain lines.
    let ansi = std::io::stdout().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stdout)
        .with_ansi(ansi)
        .with_target(false);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        // The message already says everything the fields say (they are
        // taken from it, see `sentinel::event_log`): a text line shows
        // only the message, as redis-sentinel's log does.
        builder
            .fmt_fields(tracing_subscriber::fmt::format::debug_fn(
                |out, field, value| match field.name() {
                    "message" => write!(out, "{value:?}"),
                    _ => Ok(()),
                },
            ))
            .init();
    }
    let Some(file) = args.config.or(args.file) else {
        eprintln!("vigil-sentinel: no configuration given; run `vigil-sentinel --config sentinel.yaml` (see --help)");
        std::process::exit(1);
    };
    let opts = Options {
        file,
        port: args.port,
        bind: args.bind,
        dir: args.dir,
        metrics_addr: args.metrics_addr,
    };
    if let Err(e) = run(opts) {
        eprintln!("vigil-sentinel: {e}");
        std::process::exit(1);
    }
}

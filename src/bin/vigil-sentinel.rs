//! `vigil-sentinel --config sentinel.yaml`: the high-availability monitor.
//! Also `vigil-sentinel /etc/redis/sentinel.conf` (drop-in for
//! redis-sentinel: its file is read and kept up to date as it would be).

use std::path::PathBuf;

use clap::Parser;
use vigil::sentinel::daemon::{run, Options};

/// A Sentinel-compatible monitor that watches Redis-protocol masters and
/// their replicas, detects failures, and answers redis-cli.
#[derive(Parser, Debug)]
#[command(name = "vigil-sentinel", version)]
struct Args {
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

fn main() {
    let args = Args::parse();
    let json = args.log_format == "json";
    // Colour only for a terminal: a log file or a pipe gets plain lines.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stdout)
        .with_ansi(ansi)
        .with_target(false);
    if json {
        builder.json().init();
    } else {
        builder.init();
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

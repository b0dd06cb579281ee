//! `vigil-server [CONFIG_FILE] [--directive value ...]`: a Redis-compatible
//! storage node. Arguments are parsed exactly like redis-server's.

use vigil::node::config::file::{load_from_args, Launch};

#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match load_from_args(&args) {
        Ok(Launch::Run(config)) => config,
        Ok(Launch::Version) => {
            println!(
                "Vigil server v={} (Redis {} compatible) bits=64",
                env!("CARGO_PKG_VERSION"),
                vigil::node::REDIS_VERSION
            );
            return;
        }
        Ok(Launch::Help) => {
            println!(
                "Usage: ./vigil-server [/path/to/redis.conf] [options] [-]\n       ./vigil-server - (read config from stdin)\n       ./vigil-server -v or --version\n       ./vigil-server -h or --help\n\nExamples:\n       ./vigil-server (run the server with default conf)\n       ./vigil-server /etc/redis/6379.conf\n       ./vigil-server --port 7777\n       ./vigil-server /etc/myredis.conf --loglevel verbose -\n       ./vigil-server /etc/myredis.conf --loglevel verbose"
            );
            return;
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = vigil::node::server::run(*config) {
        eprintln!("{e}");
        std::process::exit(1);
    }
}

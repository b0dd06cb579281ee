//! The `--metrics-addr` endpoint shared by both binaries: a minimal
//! HTTP/1.1 server (GET `/metrics` and GET `/health`, one request per
//! connection, `Connection: close`) and a writer for Prometheus's text
//! exposition format, version 0.0.4.
//!
//! It owns the bytes on the wire and the format's rules (HELP/TYPE lines,
//! label escaping, float spelling); it never knows a metric's meaning.
//! Each binary supplies a [`Source`] that reads its own counters at scrape
//! time — the same counters `INFO` reads, so the two never disagree.
//!
//! Hand-written rather than a web framework: two fixed routes over a
//! request line do not justify a dependency tree, and Prometheus only
//! needs `GET` with a complete, closed response.

use std::fmt::Write as _;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a binary exposes: its metrics as exposition text, and whether it
/// is serving (for `/health`). Called on the binary's own thread.
pub trait Source {
    fn metrics(&self) -> String;
    fn healthy(&self) -> bool;
}

/// Prometheus text exposition, built family by family.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

/// The type of a metric family (the `# TYPE` line).
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Gauge,
    Counter,
    Histogram,
}

impl Exposition {
    /// Start a family: its HELP and TYPE lines. Samples follow.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let kind = match kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Histogram => "histogram",
        };
        // HELP text escapes only backslash and newline (0.0.4).
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = write!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
    }

    /// One sample line of the current family.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let v = v
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = write!(self.out, "{k}=\"{v}\"");
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", float(value));
    }

    /// A family with a single unlabelled sample, the common case.
    pub fn single(&mut self, name: &str, kind: Kind, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// Go's spelling of special floats, which Prometheus parses.
fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        v.to_string()
    }
}

/// Bind `addr` (`host:port`) before the server starts, so that a bad
/// address fails start-up with a message instead of a silent missing
/// endpoint. Returns a non-blocking std listener, to be handed to
/// [`serve`] inside the runtime.
pub fn bind(addr: &str) -> Result<std::net::TcpListener, String> {
    use std::net::ToSocketAddrs;
    let addrs: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|e| format!("Invalid --metrics-addr '{addr}' (expected host:port): {e}"))?
        .collect();
    let listener = std::net::TcpListener::bind(&addrs[..])
        .map_err(|e| format!("Could not listen for metrics on {addr}: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("Could not listen for metrics on {addr}: {e}"))?;
    Ok(listener)
}

/// Accept scrapes forever on the current `LocalSet`, one task each.
pub async fn serve(listener: std::net::TcpListener, source: Rc<dyn Source>) {
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("The metrics endpoint cannot start: {e}");
            return;
        }
    };
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors and the like: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        tokio::task::spawn_local(answer(stream, source.clone()));
    }
}

/// Longest request head accepted; a scrape's is a few hundred bytes.
const MAX_HEAD: usize = 8 * 1024;

/// Read one request head, write one response, close. A client that is
/// silent for 5 s is dropped so it cannot hold a task forever.
async fn answer(mut stream: TcpStream, source: Rc<dyn Source>) {
    let mut head = Vec::with_capacity(512);
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        true
    })
    .await;
    if !matches!(read, Ok(true)) {
        return;
    }
    let (status, body, content_type) = route(&head, &*source);
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

const TEXT: &str = "text/plain; charset=utf-8";
const EXPOSITION: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The response to a request head: status line, body, content type.
fn route(head: &[u8], source: &dyn Source) -> (&'static str, String, &'static str) {
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split(' ');
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return ("400 Bad Request", "Bad Request\n".into(), TEXT);
    };
    // A query string (`/metrics?x=y`) does not change what is served.
    let path = target.split('?').next().unwrap_or(target);
    if method != "GET" {
        return (
            "405 Method Not Allowed",
            "Method Not Allowed\n".into(),
            TEXT,
        );
    }
    match path {
        "/metrics" => ("200 OK", source.metrics(), EXPOSITION),
        "/health" if source.healthy() => ("200 OK", "OK\n".into(), TEXT),
        "/health" => ("503 Service Unavailable", "UNAVAILABLE\n".into(), TEXT),
        _ => ("404 Not Found", "Not Found\n".into(), TEXT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(bool);
    impl Source for Fixed {
        fn metrics(&self) -> String {
            "up 1\n".into()
        }
        fn healthy(&self) -> bool {
            self.0
        }
    }

    #[test]
    fn routes_metrics_health_and_unknown_paths() {
        let ok = Fixed(true);
        assert_eq!(route(b"GET /metrics HTTP/1.1\r\n\r\n", &ok).0, "200 OK");
        assert_eq!(route(b"GET /metrics?a=b HTTP/1.1\r\n\r\n", &ok).1, "up 1\n");
        assert_eq!(route(b"GET /health HTTP/1.1\r\n\r\n", &ok).0, "200 OK");
        let down = Fixed(false);
        assert_eq!(
            route(b"GET /health HTTP/1.1\r\n\r\n", &down).0,
            "503 Service Unavailable"
        );
        assert_eq!(route(b"GET /nope HTTP/1.1\r\n\r\n", &ok).0, "404 Not Found");
        assert_eq!(
            route(b"POST /metrics HTTP/1.1\r\n\r\n", &ok).0,
            "405 Method Not Allowed"
        );
        assert_eq!(route(b"\r\n\r\n", &ok).0, "400 Bad Request");
    }

    #[test]
    fn exposition_escapes_labels_and_spells_floats_like_go() {
        let mut e = Exposition::default();
        e.family("x", Kind::Gauge, "An \\ odd\nhelp");
        e.sample("x", &[("a", "q\"b\\c\nd")], 1.5);
        e.sample("x_bucket", &[("le", "+Inf")], f64::INFINITY);
        assert_eq!(
            e.finish(),
            "# HELP x An \\\\ odd\\nhelp\n# TYPE x gauge\nx{a=\"q\\\"b\\\\c\\nd\"} 1.5\nx_bucket{le=\"+Inf\"} +Inf\n"
        );
    }

    #[test]
    fn bad_addresses_are_refused_with_a_message() {
        let e = bind("not an address").unwrap_err();
        assert!(e.contains("Invalid --metrics-addr"), "{e}");
        let taken = bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        let e = bind(&addr).unwrap_err();
        assert!(e.contains("Could not listen for metrics"), "{e}");
    }
}

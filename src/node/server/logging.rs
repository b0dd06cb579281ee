//! Logs in Redis's layout, so operators' tools and habits keep working:
//!
//! ```text
//! 4242:M 23 Nov 2026 20:26:01.123 * Ready to accept connections tcp
//! ```
//!
//! (pid, role, local time, level mark `.` debug, `-` verbose, `*` notice,
//! `#` warning). `loglevel` maps onto tracing levels and can change while
//! the server runs (`CONFIG SET loglevel`); `logfile ""` means standard
//! output. `log-format json` (`--log-format json`, or `VIGIL_LOG_FORMAT=json`)
//! switches to one JSON object per line for log pipelines.

use std::fmt;
use std::fs::OpenOptions;
use std::sync::{Mutex, OnceLock};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, Registry};

use crate::node::config::types::{LogFormat, LogLevel};
use crate::node::config::Settings;

/// The most verbose tracing level enabled by a Redis `loglevel`.
pub fn level_filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Debug => LevelFilter::TRACE,
        LogLevel::Verbose => LevelFilter::DEBUG,
        LogLevel::Notice => LevelFilter::INFO,
        LogLevel::Warning => LevelFilter::WARN,
    }
}

/// Changes the installed logger's level (set by [`init`]).
static LEVEL: OnceLock<reload::Handle<LevelFilter, Registry>> = OnceLock::new();

/// Install the global logger (once; later calls are ignored).
pub fn init(settings: &Settings) {
    // The level is a reloadable layer under the formatter, so it can change
    // while the server runs.
    let (filter, handle) = reload::Layer::new(level_filter(settings.loglevel));
    let registry = tracing_subscriber::registry().with(filter);
    let json = settings.log_format == LogFormat::Json
        || std::env::var("VIGIL_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let installed = if settings.logfile.is_empty() {
        if json {
            registry
                .with(
                    tracing_subscriber::fmt::layer()
                        .json()
                        .with_writer(std::io::stdout),
                )
                .try_init()
        } else {
            registry
                .with(
                    tracing_subscriber::fmt::layer()
                        .event_format(RedisFormat)
                        .with_writer(std::io::stdout),
                )
                .try_init()
        }
    } else {
        match OpenOptions::new()
            .create(true)
            .append(true)
            .open(&settings.logfile)
        {
            Ok(file) => {
                let file = Mutex::new(file);
                if json {
                    registry
                        .with(tracing_subscriber::fmt::layer().json().with_writer(file))
                        .try_init()
                } else {
                    registry
                        .with(
                            tracing_subscriber::fmt::layer()
                                .event_format(RedisFormat)
                                .with_writer(file),
                        )
                        .try_init()
                }
            }
            Err(e) => {
                eprintln!("Can't open the log file {}: {e}", settings.logfile);
                std::process::exit(1);
            }
        }
    };
    if installed.is_ok() {
        let _ = LEVEL.set(handle);
    }
}

/// Log at `level` from now on (`CONFIG SET loglevel`). Without an
/// installed logger there is nothing to change.
pub fn set_level(level: LogLevel) {
    if let Some(handle) = LEVEL.get() {
        let _ = handle.modify(|filter| *filter = level_filter(level));
    }
}

/// Redis's log line layout.
struct RedisFormat;

impl<S, N> FormatEvent<S, N> for RedisFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mark = match *event.metadata().level() {
            Level::ERROR | Level::WARN => '#',
            Level::INFO => '*',
            Level::DEBUG => '-',
            Level::TRACE => '.',
        };
        write!(
            writer,
            "{}:{} {} {} ",
            std::process::id(),
            crate::node::replication::LOG_ROLE.load(std::sync::atomic::Ordering::Relaxed) as char,
            local_timestamp(),
            mark
        )?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// `23 Nov 2026 20:26:01.123` in local time.
fn local_timestamp() -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let now_ms = crate::node::unix_ms();
    let secs = (now_ms / 1000) as libc::time_t;
    // SAFETY: localtime_r only writes into the provided `tm`.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        tm
    };
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        tm.tm_mday,
        MONTHS[tm.tm_mon.clamp(0, 11) as usize],
        tm.tm_year + 1900,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        now_ms % 1000
    )
}

//! `vigil-sentinel topology`: the live topology as the monitors see it,
//! printed as a tree per master name.
//!
//! Three steps, kept apart so the text can be tested without sockets:
//! [`fetch`] asks each monitor (SENTINEL MYID / MASTERS / REPLICAS /
//! SENTINELS) and each master (INFO replication, for its offset) and
//! builds a [`Snapshot`]; [`render`] turns a snapshot into text, a pure
//! function; the binary only parses arguments and loops for `--watch`.
//!
//! What matters most to an operator is where the monitors disagree, so
//! every disagreement gets its own line starting with `!` that names the
//! monitor and what it says: a monitor unreachable, a monitor that does
//! not know a master, a different address or config epoch for the same
//! name. Redis 7.0 exposes no monitor's current epoch (INFO sentinel and
//! the instance maps only carry `config-epoch` per master and the epoch
//! of a peer's last vote), so those are what the view compares.
//!
//! This module never changes a monitor: it sends read-only commands.

use std::collections::BTreeMap;
use std::time::Duration;

/// One instance map (SENTINEL MASTER/REPLICAS/SENTINELS entry): field → value.
pub type Fields = BTreeMap<String, String>;

/// What one monitor said about one master.
#[derive(Debug, Clone, Default)]
pub struct MasterView {
    /// The SENTINEL MASTERS entry.
    pub master: Fields,
    pub replicas: Vec<Fields>,
    pub sentinels: Vec<Fields>,
}

impl MasterView {
    pub fn name(&self) -> &str {
        field(&self.master, "name")
    }

    /// `ip:port`, what clients would be told.
    pub fn addr(&self) -> String {
        format!(
            "{}:{}",
            field(&self.master, "ip"),
            field(&self.master, "port")
        )
    }

    pub fn config_epoch(&self) -> &str {
        field(&self.master, "config-epoch")
    }
}

/// What one monitor answered.
#[derive(Debug, Clone, Default)]
pub struct MonitorReport {
    /// Its id (SENTINEL MYID), how peers name it.
    pub id: String,
    pub masters: Vec<MasterView>,
}

/// One monitor asked: its address and its answers, or why there are none.
#[derive(Debug, Clone)]
pub struct MonitorResult {
    pub addr: String,
    pub report: Result<MonitorReport, String>,
}

/// Everything one refresh learnt.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub monitors: Vec<MonitorResult>,
    /// `master_repl_offset` of each master address that answered INFO
    /// replication as a master; the lag of replicas is measured from it.
    pub master_offsets: BTreeMap<String, i64>,
}

impl Snapshot {
    /// True if no monitor answered (the command then exits with 1).
    pub fn none_reachable(&self) -> bool {
        self.monitors.iter().all(|m| m.report.is_err())
    }
}

fn field<'a>(fields: &'a Fields, key: &str) -> &'a str {
    fields.get(key).map(String::as_str).unwrap_or("?")
}

// ---------------------------------------------------------------------------
// Fetch

/// How long one monitor or master may take to connect or answer: a hung
/// monitor must show as unreachable, not freeze the view.
const TIMEOUT: Duration = Duration::from_secs(1);

/// Ask every monitor in `addrs` (`host:port`) and the masters they name.
pub fn fetch(addrs: &[String]) -> Snapshot {
    let monitors: Vec<MonitorResult> = addrs
        .iter()
        .map(|addr| MonitorResult {
            addr: addr.clone(),
            report: ask_monitor(addr),
        })
        .collect();
    let mut master_offsets = BTreeMap::new();
    for report in monitors.iter().filter_map(|m| m.report.as_ref().ok()) {
        for view in &report.masters {
            let addr = view.addr();
            if master_offsets.contains_key(&addr) {
                continue;
            }
            if let Some(offset) = master_offset(&addr) {
                master_offsets.insert(addr, offset);
            }
        }
    }
    Snapshot {
        monitors,
        master_offsets,
    }
}

fn connect(addr: &str) -> Result<redis::Connection, String> {
    let client = redis::Client::open(format!("redis://{addr}/")).map_err(|e| e.to_string())?;
    let con = client
        .get_connection_with_timeout(TIMEOUT)
        .map_err(|e| e.to_string())?;
    con.set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    con.set_write_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    Ok(con)
}

fn ask_monitor(addr: &str) -> Result<MonitorReport, String> {
    let mut con = connect(addr)?;
    let query = |con: &mut redis::Connection, args: &[&str]| -> Result<redis::Value, String> {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query::<redis::Value>(con).map_err(|e| e.to_string())
    };
    let id = text(&query(&mut con, &["SENTINEL", "MYID"])?);
    let mut masters = Vec::new();
    for master in maps(query(&mut con, &["SENTINEL", "MASTERS"])?) {
        let name = field(&master, "name").to_string();
        let replicas = maps(query(&mut con, &["SENTINEL", "REPLICAS", &name])?);
        let sentinels = maps(query(&mut con, &["SENTINEL", "SENTINELS", &name])?);
        masters.push(MasterView {
            master,
            replicas,
            sentinels,
        });
    }
    masters.sort_by(|a, b| a.name().cmp(b.name()));
    Ok(MonitorReport { id, masters })
}

/// The master's own offset, if it answers and says it is a master.
fn master_offset(addr: &str) -> Option<i64> {
    let mut con = connect(addr).ok()?;
    let info: String = redis::cmd("INFO").arg("replication").query(&mut con).ok()?;
    let mut is_master = false;
    let mut offset = None;
    for line in info.lines() {
        match line.trim_end().split_once(':') {
            Some(("role", role)) => is_master = role == "master",
            Some(("master_repl_offset", v)) => offset = v.parse().ok(),
            _ => {}
        }
    }
    offset.filter(|_| is_master)
}

fn text(v: &redis::Value) -> String {
    match v {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::SimpleString(s) => s.clone(),
        redis::Value::Int(n) => n.to_string(),
        redis::Value::Okay => "OK".into(),
        _ => String::new(),
    }
}

/// A list of instance maps, flat pairs (RESP2) or maps (RESP3).
fn maps(v: redis::Value) -> Vec<Fields> {
    let redis::Value::Array(entries) = v else {
        return Vec::new();
    };
    entries
        .into_iter()
        .map(|entry| match entry {
            redis::Value::Array(items) => items
                .chunks(2)
                .filter(|p| p.len() == 2)
                .map(|p| (text(&p[0]), text(&p[1])))
                .collect(),
            redis::Value::Map(pairs) => pairs.iter().map(|(k, v)| (text(k), text(v))).collect(),
            _ => Fields::new(),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Render

/// ANSI styling, or none (pipes, files, tests).
#[derive(Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn with(self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn bold(self, s: &str) -> String {
        self.with("1", s)
    }
    fn good(self, s: &str) -> String {
        self.with("32", s)
    }
    fn bad(self, s: &str) -> String {
        self.with("1;31", s)
    }
    fn warn(self, s: &str) -> String {
        self.with("33", s)
    }
}

/// The state words of a master from its flags: `ok`, or the ones that
/// matter (`s_down`, `o_down`, `failover in progress`, `disconnected`).
fn master_state(flags: &str) -> Vec<&'static str> {
    let has = |f: &str| flags.split(',').any(|x| x == f);
    let mut words = Vec::new();
    for (flag, word) in [
        ("s_down", "s_down"),
        ("o_down", "o_down"),
        ("failover_in_progress", "failover in progress"),
        ("disconnected", "disconnected"),
    ] {
        if has(flag) {
            words.push(word);
        }
    }
    if words.is_empty() {
        words.push("ok");
    }
    words
}

/// A duration in milliseconds as the view shows ages: `850ms`, `12.3s`.
fn age(ms: &str) -> String {
    match ms.parse::<u64>() {
        Ok(ms) if ms < 1000 => format!("{ms}ms"),
        Ok(ms) => format!("{:.1}s", ms as f64 / 1000.0),
        Err(_) => ms.to_string(),
    }
}

/// The text of a snapshot; `colour` adds ANSI styling (only for a terminal).
pub fn render(snap: &Snapshot, colour: bool) -> String {
    let p = Paint(colour);
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };

    // The monitors asked, and the ones that did not answer.
    line(p.bold("monitors asked:"));
    for m in &snap.monitors {
        match &m.report {
            Ok(r) => line(format!(
                "  {}  id {}  watching {}",
                m.addr,
                short_id(&r.id),
                r.masters.len()
            )),
            Err(e) => line(p.bad(&format!("! {} unreachable: {e}", m.addr))),
        }
    }

    // Every master name any monitor knows, in order.
    let reachable: Vec<(&str, &MonitorReport)> = snap
        .monitors
        .iter()
        .filter_map(|m| m.report.as_ref().ok().map(|r| (m.addr.as_str(), r)))
        .collect();
    let mut names: Vec<&str> = reachable
        .iter()
        .flat_map(|(_, r)| r.masters.iter().map(MasterView::name))
        .collect();
    names.sort();
    names.dedup();
    if reachable.is_empty() {
        line(p.bad("! no monitor reachable"));
    }

    for name in names {
        line(String::new());
        render_master(&mut line, p, snap, &reachable, name);
    }
    out
}

/// The first 8 characters of a monitor id, enough to tell monitors apart.
fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn render_master(
    line: &mut impl FnMut(String),
    p: Paint,
    snap: &Snapshot,
    reachable: &[(&str, &MonitorReport)],
    name: &str,
) {
    // Each reachable monitor's view of this master, if it has one.
    let views: Vec<(&str, Option<&MasterView>)> = reachable
        .iter()
        .map(|(addr, r)| (*addr, r.masters.iter().find(|v| v.name() == name)))
        .collect();
    let known: Vec<(&str, &MasterView)> = views
        .iter()
        .filter_map(|(a, v)| v.map(|v| (*a, v)))
        .collect();

    // The reference view is the one most monitors share (address and
    // config epoch), the first monitor asked breaking ties; the others
    // are reported as disagreeing with it.
    let mut claims: Vec<((String, String), Vec<&str>)> = Vec::new();
    for (addr, v) in &known {
        let claim = (v.addr(), v.config_epoch().to_string());
        match claims.iter_mut().find(|(c, _)| *c == claim) {
            Some((_, who)) => who.push(addr),
            None => claims.push((claim, vec![addr])),
        }
    }
    let Some(best) = claims
        .iter()
        .rev()
        .max_by_key(|(_, who)| who.len())
        .map(|c| &c.0)
    else {
        return;
    };
    let Some(&(_, reference)) = known
        .iter()
        .find(|(_, v)| (v.addr(), v.config_epoch().to_string()) == *best)
    else {
        return;
    };

    // The master line.
    let flags = field(&reference.master, "flags");
    let state = master_state(flags)
        .iter()
        .map(|w| if *w == "ok" { p.good(w) } else { p.bad(w) })
        .collect::<Vec<_>>()
        .join(", ");
    let offset = snap.master_offsets.get(&reference.addr()).copied();
    line(format!(
        "{} {}  {}  [{}]  flags {}  config-epoch {}  quorum {}{}",
        p.bold("master"),
        p.bold(name),
        reference.addr(),
        state,
        flags,
        reference.config_epoch(),
        field(&reference.master, "quorum"),
        offset.map(|o| format!("  offset {o}")).unwrap_or_default(),
    ));

    // Replicas, with the lag against the master's offset, or against the
    // furthest replica when the master did not answer. A replica's offset
    // is the monitor's, from its last INFO (every 10 s), so its age is
    // shown: a lag from an old INFO is not a slow replica.
    let replica_offset = |r: &Fields| field(r, "slave-repl-offset").parse::<i64>().ok();
    let (base, base_from) = match offset {
        Some(o) => (Some(o), "master"),
        None => (
            reference.replicas.iter().filter_map(replica_offset).max(),
            "furthest replica",
        ),
    };
    line(format!(
        "  replicas ({}), lag against the {base_from}:",
        reference.replicas.len()
    ));
    for r in &reference.replicas {
        let link = field(r, "master-link-status");
        let link = if link == "ok" {
            p.good("ok")
        } else {
            p.bad(link)
        };
        let lag = match (base, replica_offset(r)) {
            (Some(b), Some(o)) => (b - o).max(0).to_string(),
            _ => "?".into(),
        };
        line(format!(
            "    {}:{}  link {link}  flags {}  offset {} (info {} old)  lag {lag}  priority {}",
            field(r, "ip"),
            field(r, "port"),
            field(r, "flags"),
            field(r, "slave-repl-offset"),
            age(field(r, "info-refresh")),
            field(r, "slave-priority"),
        ));
    }

    // Each monitor's view of its peers for this master.
    line("  monitors:".to_string());
    for (addr, v) in &known {
        let flags = field(&v.master, "flags");
        line(format!(
            "    {addr}  config-epoch {}  sees [{}]  {} peer(s)",
            v.config_epoch(),
            master_state(flags).join(", "),
            v.sentinels.len()
        ));
        for s in &v.sentinels {
            let voted = match field(s, "voted-leader") {
                "?" => "-".to_string(),
                id => format!(
                    "{} (epoch {})",
                    short_id(id),
                    field(s, "voted-leader-epoch")
                ),
            };
            let sflags = field(s, "flags");
            let sflags = if sflags.contains("s_down") {
                p.warn(sflags)
            } else {
                sflags.to_string()
            };
            line(format!(
                "      peer {}:{}  id {}  flags {sflags}  last-hello {}  last-ok-ping {}  voted-leader {voted}",
                field(s, "ip"),
                field(s, "port"),
                short_id(field(s, "name")),
                age(field(s, "last-hello-message")),
                age(field(s, "last-ok-ping-reply")),
            ));
        }
    }

    // Disagreements, each on its own `!` line naming who says what.
    if claims.len() > 1 {
        for ((addr, epoch), who) in &claims {
            line(p.bad(&format!(
                "  ! {} say{} {name} is at {addr} config-epoch {epoch}",
                who.join(", "),
                if who.len() == 1 { "s" } else { "" },
            )));
        }
    }
    for (addr, v) in &views {
        if v.is_none() {
            line(p.bad(&format!("  ! {addr} does not know {name}")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn view(port: &str, epoch: &str) -> MasterView {
        MasterView {
            master: fields(&[
                ("name", "mymaster"),
                ("ip", "127.0.0.1"),
                ("port", port),
                ("flags", "master"),
                ("config-epoch", epoch),
                ("quorum", "2"),
            ]),
            replicas: vec![fields(&[
                ("ip", "127.0.0.1"),
                ("port", "6381"),
                ("flags", "slave"),
                ("master-link-status", "ok"),
                ("slave-repl-offset", "900"),
                ("slave-priority", "100"),
                ("info-refresh", "2000"),
            ])],
            sentinels: vec![fields(&[
                ("name", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"),
                ("ip", "127.0.0.1"),
                ("port", "26380"),
                ("flags", "sentinel"),
                ("last-hello-message", "312"),
                ("last-ok-ping-reply", "1500"),
                ("voted-leader", "?"),
                ("voted-leader-epoch", "0"),
            ])],
        }
    }

    fn monitor(addr: &str, masters: Vec<MasterView>) -> MonitorResult {
        MonitorResult {
            addr: addr.into(),
            report: Ok(MonitorReport {
                id: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into(),
                masters,
            }),
        }
    }

    fn bang_lines(text: &str) -> Vec<&str> {
        text.lines()
            .filter(|l| l.trim_start().starts_with('!'))
            .collect()
    }

    #[test]
    fn agreeing_monitors_show_the_tree_and_no_marker() {
        let snap = Snapshot {
            monitors: vec![
                monitor("127.0.0.1:26379", vec![view("6380", "0")]),
                monitor("127.0.0.1:26380", vec![view("6380", "0")]),
            ],
            master_offsets: [("127.0.0.1:6380".to_string(), 1000)].into(),
        };
        let text = render(&snap, false);
        assert!(text.contains(
            "master mymaster  127.0.0.1:6380  [ok]  flags master  config-epoch 0  quorum 2  offset 1000"
        ));
        assert!(text.contains(
            "    127.0.0.1:6381  link ok  flags slave  offset 900 (info 2.0s old)  lag 100  priority 100"
        ));
        assert!(text.contains("      peer 127.0.0.1:26380  id bbbbbbbb  flags sentinel  last-hello 312ms  last-ok-ping 1.5s  voted-leader -"));
        assert!(text.contains("    127.0.0.1:26380  config-epoch 0  sees [ok]  1 peer(s)"));
        assert_eq!(bang_lines(&text), Vec::<&str>::new(), "{text}");
        assert!(!text.contains('\x1b'));
        assert!(!snap.none_reachable());
    }

    #[test]
    fn different_address_or_epoch_is_highlighted_with_who_says_what() {
        let snap = Snapshot {
            monitors: vec![
                monitor("127.0.0.1:26379", vec![view("6380", "0")]),
                monitor("127.0.0.1:26380", vec![view("6380", "0")]),
                monitor("127.0.0.1:26381", vec![view("6381", "1")]),
                monitor("127.0.0.1:26382", vec![]),
            ],
            master_offsets: BTreeMap::new(),
        };
        let text = render(&snap, false);
        // The majority's view is the tree; the lag falls back to the furthest replica.
        assert!(text.contains("master mymaster  127.0.0.1:6380  [ok]"));
        assert!(text.contains("lag against the furthest replica"));
        assert_eq!(
            bang_lines(&text),
            [
                "  ! 127.0.0.1:26379, 127.0.0.1:26380 say mymaster is at 127.0.0.1:6380 config-epoch 0",
                "  ! 127.0.0.1:26381 says mymaster is at 127.0.0.1:6381 config-epoch 1",
                "  ! 127.0.0.1:26382 does not know mymaster",
            ],
            "{text}"
        );
    }

    #[test]
    fn unreachable_monitor_is_a_marker_line_not_a_failure() {
        let snap = Snapshot {
            monitors: vec![
                monitor("127.0.0.1:26379", vec![view("6380", "0")]),
                MonitorResult {
                    addr: "127.0.0.1:1".into(),
                    report: Err("Connection refused".into()),
                },
            ],
            master_offsets: BTreeMap::new(),
        };
        let text = render(&snap, false);
        assert_eq!(
            bang_lines(&text),
            ["! 127.0.0.1:1 unreachable: Connection refused"]
        );
        assert!(text.contains("master mymaster"));
        assert!(!snap.none_reachable());

        let none = Snapshot {
            monitors: vec![snap.monitors[1].clone()],
            master_offsets: BTreeMap::new(),
        };
        assert!(none.none_reachable());
        assert!(render(&none, false).contains("! no monitor reachable"));
    }

    #[test]
    fn master_state_words_come_from_flags() {
        assert_eq!(master_state("master"), ["ok"]);
        assert_eq!(
            master_state("s_down,o_down,master,disconnected,failover_in_progress"),
            ["s_down", "o_down", "failover in progress", "disconnected"]
        );
    }

    #[test]
    fn colour_only_when_asked() {
        let snap = Snapshot {
            monitors: vec![monitor("127.0.0.1:26379", vec![view("6380", "0")])],
            master_offsets: BTreeMap::new(),
        };
        assert!(render(&snap, true).contains("\x1b[32mok\x1b[0m"));
    }
}

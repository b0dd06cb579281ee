//! What the node and the monitor share about their client connections:
//! the `CLIENT LIST` / `CLIENT INFO` line (every field of Redis 7.0's, in
//! its order, spec/node.md 8.3, because tools parse them by name), the
//! client types, and the arguments of `CLIENT KILL`, `PAUSE` and `UNBLOCK`
//! with Redis's exact errors. Each side keeps its own connection state and
//! acts on it; this module only formats and parses.

use std::fmt::Write as _;

use crate::resp::errors::{c_str, subcommand_syntax_error};

const SYNTAX: &[u8] = b"ERR syntax error";

/// Case-insensitive comparison of an argument with an option name, as
/// Redis's `strcasecmp` sees the argument (up to a NUL).
fn is(arg: &[u8], option: &str) -> bool {
    c_str(arg).eq_ignore_ascii_case(option.as_bytes())
}

/// The fields of one `CLIENT LIST` line.
#[derive(Debug, Clone, Default)]
pub struct ClientLine<'a> {
    pub id: u64,
    pub addr: &'a str,
    pub laddr: &'a str,
    pub fd: i64,
    pub name: &'a str,
    /// Seconds since the connection was made.
    pub age: i64,
    /// Seconds since its last command.
    pub idle: i64,
    pub flags: &'a str,
    pub db: i64,
    pub sub: usize,
    pub psub: usize,
    pub ssub: usize,
    /// Commands queued in MULTI, -1 outside a transaction.
    pub multi: i64,
    pub qbuf: usize,
    pub qbuf_free: usize,
    pub argv_mem: usize,
    pub multi_mem: usize,
    pub rbs: usize,
    pub rbp: usize,
    pub obl: usize,
    pub oll: usize,
    pub omem: usize,
    pub tot_mem: usize,
    pub events: &'a str,
    pub cmd: &'a str,
    pub user: &'a str,
    /// The tracking redirection, -1 when tracking is off.
    pub redir: i64,
    pub resp: u8,
}

impl ClientLine<'_> {
    /// The line, followed by the newline CLIENT LIST puts after each.
    pub fn write(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={} rbp={} obl={} oll={} omem={} tot-mem={} events={} cmd={} user={} redir={} resp={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            self.name,
            self.age,
            self.idle,
            self.flags,
            self.db,
            self.sub,
            self.psub,
            self.ssub,
            self.multi,
            self.qbuf,
            self.qbuf_free,
            self.argv_mem,
            self.multi_mem,
            self.rbs,
            self.rbp,
            self.obl,
            self.oll,
            self.omem,
            self.tot_mem,
            self.events,
            self.cmd,
            self.user,
            self.redir,
            self.resp,
        );
    }
}

/// The kinds `TYPE` filters accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    Normal,
    Replica,
    Pubsub,
    Master,
}

impl ClientType {
    /// `normal`, `slave`/`replica`, `pubsub`, `master`, any case.
    pub fn by_name(name: &[u8]) -> Option<ClientType> {
        match name.to_ascii_lowercase().as_slice() {
            b"normal" => Some(ClientType::Normal),
            b"slave" | b"replica" => Some(ClientType::Replica),
            b"pubsub" => Some(ClientType::Pubsub),
            b"master" => Some(ClientType::Master),
            _ => None,
        }
    }

    /// Like [`ClientType::by_name`], with Redis's error for other names.
    pub fn parse(name: &[u8]) -> Result<ClientType, Vec<u8>> {
        ClientType::by_name(name).ok_or_else(|| {
            let mut msg = b"ERR Unknown client type '".to_vec();
            msg.extend_from_slice(name);
            msg.push(b'\'');
            msg
        })
    }
}

/// What `CLIENT LIST [TYPE t | ID id ...]` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListFilter {
    All,
    Type(ClientType),
    /// These ids, in this order (unknown ones are skipped).
    Ids(Vec<i64>),
}

impl ListFilter {
    /// Parse the arguments of `CLIENT LIST` (`argv` from `CLIENT`).
    pub fn parse(argv: &[&[u8]]) -> Result<ListFilter, Vec<u8>> {
        if argv.len() == 4 && is(argv[2], "type") {
            Ok(ListFilter::Type(ClientType::parse(argv[3])?))
        } else if argv.len() > 3 && is(argv[2], "id") {
            argv[3..]
                .iter()
                .map(|a| crate::util::num::parse_i64(a).ok_or(b"ERR Invalid client ID".to_vec()))
                .collect::<Result<_, _>>()
                .map(ListFilter::Ids)
        } else if argv.len() != 2 {
            Err(SYNTAX.to_vec())
        } else {
            Ok(ListFilter::All)
        }
    }
}

/// The filters of `CLIENT KILL`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KillFilter<'a> {
    pub id: Option<u64>,
    pub kind: Option<ClientType>,
    pub addr: Option<&'a [u8]>,
    pub laddr: Option<&'a [u8]>,
    pub user: Option<&'a [u8]>,
    pub skip_me: bool,
    /// `CLIENT KILL <ip:port>`: replies `+OK` or `No such client` instead
    /// of a count, and may kill the caller itself.
    pub old_form: bool,
}

/// A connection as `CLIENT KILL` filters see it.
#[derive(Debug, Clone, Copy)]
pub struct KillCandidate<'a> {
    pub id: u64,
    pub addr: &'a str,
    pub laddr: &'a str,
    pub kind: ClientType,
    pub user: &'a [u8],
    /// The connection running CLIENT KILL.
    pub is_me: bool,
}

impl<'a> KillFilter<'a> {
    /// Parse the arguments of `CLIENT KILL` (`argv` from `CLIENT`, at
    /// least three). `user_exists` says whether a `USER` filter names a
    /// user.
    pub fn parse(
        argv: &[&'a [u8]],
        user_exists: impl Fn(&[u8]) -> bool,
    ) -> Result<KillFilter<'a>, Vec<u8>> {
        if argv.len() == 3 {
            return Ok(KillFilter {
                addr: Some(argv[2]),
                old_form: true,
                ..KillFilter::default()
            });
        }
        let mut f = KillFilter {
            skip_me: true,
            ..KillFilter::default()
        };
        let mut i = 2;
        while i < argv.len() {
            let more = argv.len() > i + 1;
            let (opt, value) = (argv[i], argv.get(i + 1).copied().unwrap_or(b""));
            if is(opt, "id") && more {
                let bad = b"ERR client-id should be greater than 0".to_vec();
                let id = crate::util::num::parse_i64(value).ok_or(bad.clone())?;
                if id < 1 {
                    return Err(bad);
                }
                f.id = Some(id as u64);
            } else if is(opt, "type") && more {
                f.kind = Some(ClientType::parse(value)?);
            } else if is(opt, "addr") && more {
                f.addr = Some(value);
            } else if is(opt, "laddr") && more {
                f.laddr = Some(value);
            } else if is(opt, "user") && more {
                if !user_exists(value) {
                    let mut msg = b"ERR No such user '".to_vec();
                    msg.extend_from_slice(value);
                    msg.push(b'\'');
                    return Err(msg);
                }
                f.user = Some(value);
            } else if is(opt, "skipme") && more {
                f.skip_me = match value.to_ascii_lowercase().as_slice() {
                    b"yes" => true,
                    b"no" => false,
                    _ => return Err(SYNTAX.to_vec()),
                };
            } else {
                return Err(SYNTAX.to_vec());
            }
            i += 2;
        }
        Ok(f)
    }

    /// Whether the filters select `c`.
    pub fn matches(&self, c: &KillCandidate) -> bool {
        self.addr.is_none_or(|a| c.addr.as_bytes() == a)
            && self.laddr.is_none_or(|a| c.laddr.as_bytes() == a)
            && self.kind.is_none_or(|k| c.kind == k)
            && self.id.is_none_or(|id| c.id == id)
            && self.user.is_none_or(|u| c.user == u)
            && !(self.skip_me && c.is_me)
    }
}

/// What `CLIENT PAUSE <timeout> [WRITE|ALL]` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PauseRequest {
    pub writes_only: bool,
    /// When the pause ends (unix ms); 0 for a zero timeout.
    pub end_ms: i64,
}

impl PauseRequest {
    /// Parse the arguments of `CLIENT PAUSE` (`argv` from `CLIENT`) at
    /// time `now_ms`.
    pub fn parse(argv: &[&[u8]], now_ms: i64) -> Result<PauseRequest, Vec<u8>> {
        if argv.len() > 4 {
            return Err(subcommand_syntax_error(argv[1], "client"));
        }
        let mut writes_only = false;
        if let Some(mode) = argv.get(3) {
            if is(mode, "write") {
                writes_only = true;
            } else if !is(mode, "all") {
                return Err(b"ERR CLIENT PAUSE mode must be WRITE or ALL".to_vec());
            }
        }
        let timeout = crate::util::num::parse_i64(argv[2])
            .ok_or(b"ERR timeout is not an integer or out of range".to_vec())?;
        if timeout < 0 {
            return Err(b"ERR timeout is negative".to_vec());
        }
        let end_ms = if timeout > 0 {
            timeout
                .checked_add(now_ms)
                .ok_or(b"ERR timeout is out of range".to_vec())?
        } else {
            0
        };
        Ok(PauseRequest {
            writes_only,
            end_ms,
        })
    }
}

/// What `CLIENT UNBLOCK <id> [TIMEOUT|ERROR]` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnblockRequest {
    /// The client id as given (any integer).
    pub id: i64,
    /// `ERROR`: the blocked command fails instead of timing out.
    pub as_error: bool,
}

impl UnblockRequest {
    /// Parse the arguments of `CLIENT UNBLOCK` (`argv` from `CLIENT`).
    pub fn parse(argv: &[&[u8]]) -> Result<UnblockRequest, Vec<u8>> {
        if argv.len() > 4 {
            return Err(subcommand_syntax_error(argv[1], "client"));
        }
        let as_error = match argv.get(3) {
            None => false,
            Some(r) if is(r, "timeout") => false,
            Some(r) if is(r, "error") => true,
            Some(_) => return Err(b"ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR".to_vec()),
        };
        let id = crate::util::num::parse_i64(argv[2])
            .ok_or(b"ERR value is not an integer or out of range".to_vec())?;
        Ok(UnblockRequest { id, as_error })
    }
}

/// Client names may hold only printable characters other than space.
pub fn validate_name(name: &[u8]) -> Result<(), &'static str> {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err("ERR Client names cannot contain spaces, newlines or special characters.");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<&[u8]> {
        line.split(' ').map(str::as_bytes).collect()
    }

    #[test]
    fn a_client_line_has_every_field_in_redis_order() {
        let mut out = String::new();
        ClientLine {
            id: 4,
            addr: "127.0.0.1:33624",
            laddr: "127.0.0.1:26379",
            fd: 11,
            flags: "N",
            multi: -1,
            events: "r",
            cmd: "client|info",
            user: "default",
            redir: -1,
            resp: 2,
            ..ClientLine::default()
        }
        .write(&mut out);
        assert_eq!(
            out,
            "id=4 addr=127.0.0.1:33624 laddr=127.0.0.1:26379 fd=11 name= age=0 idle=0 flags=N db=0 \
             sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 \
             obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=client|info user=default redir=-1 resp=2\n"
        );
    }

    #[test]
    fn kill_arguments_parse_as_redis_does() {
        let none = |_: &[u8]| false;
        let old = KillFilter::parse(&args("CLIENT KILL 1.2.3.4:5"), none).unwrap();
        assert!(old.old_form && !old.skip_me);
        assert_eq!(old.addr, Some(&b"1.2.3.4:5"[..]));
        let f = KillFilter::parse(&args("client kill TYPE pubsub SKIPME no ID 7"), none).unwrap();
        assert_eq!(f.kind, Some(ClientType::Pubsub));
        assert_eq!(f.id, Some(7));
        assert!(!f.skip_me && !f.old_form);
        let err = |line: &str| {
            String::from_utf8(KillFilter::parse(&args(line), none).unwrap_err()).unwrap()
        };
        assert_eq!(
            err("CLIENT KILL ID x"),
            "ERR client-id should be greater than 0"
        );
        assert_eq!(
            err("CLIENT KILL ID 0"),
            "ERR client-id should be greater than 0"
        );
        assert_eq!(err("CLIENT KILL USER bob"), "ERR No such user 'bob'");
        assert_eq!(err("CLIENT KILL TYPE foo"), "ERR Unknown client type 'foo'");
        assert_eq!(err("CLIENT KILL foo bar"), "ERR syntax error");
        assert_eq!(err("CLIENT KILL ID 1 TYPE"), "ERR syntax error");
        assert_eq!(err("CLIENT KILL SKIPME maybe"), "ERR syntax error");
    }

    #[test]
    fn kill_filters_skip_the_caller_unless_told_otherwise() {
        let me = KillCandidate {
            id: 3,
            addr: "127.0.0.1:1",
            laddr: "127.0.0.1:2",
            kind: ClientType::Normal,
            user: b"default",
            is_me: true,
        };
        let other = KillCandidate {
            id: 4,
            is_me: false,
            kind: ClientType::Pubsub,
            ..me
        };
        let f = KillFilter::parse(&args("CLIENT KILL USER default"), |u| u == b"default").unwrap();
        assert!(!f.matches(&me) && f.matches(&other));
        let f = KillFilter::parse(&args("CLIENT KILL TYPE normal SKIPME no"), |_| true).unwrap();
        assert!(f.matches(&me) && !f.matches(&other));
        let f = KillFilter::parse(&args("CLIENT KILL 127.0.0.1:1"), |_| true).unwrap();
        assert!(f.matches(&me) && f.matches(&other));
    }

    #[test]
    fn list_pause_and_unblock_arguments() {
        assert_eq!(ListFilter::parse(&args("CLIENT LIST")), Ok(ListFilter::All));
        assert_eq!(
            ListFilter::parse(&args("CLIENT LIST ID 3 1")),
            Ok(ListFilter::Ids(vec![3, 1]))
        );
        assert_eq!(
            ListFilter::parse(&args("CLIENT LIST type REPLICA")),
            Ok(ListFilter::Type(ClientType::Replica))
        );
        assert_eq!(
            ListFilter::parse(&args("CLIENT LIST ID x")),
            Err(b"ERR Invalid client ID".to_vec())
        );
        assert_eq!(
            ListFilter::parse(&args("CLIENT LIST x")),
            Err(SYNTAX.to_vec())
        );
        assert_eq!(
            PauseRequest::parse(&args("CLIENT PAUSE 10 write"), 1000),
            Ok(PauseRequest {
                writes_only: true,
                end_ms: 1010
            })
        );
        assert_eq!(
            PauseRequest::parse(&args("CLIENT PAUSE 10 foo"), 0),
            Err(b"ERR CLIENT PAUSE mode must be WRITE or ALL".to_vec())
        );
        assert_eq!(
            PauseRequest::parse(&args("CLIENT PAUSE -1"), 0),
            Err(b"ERR timeout is negative".to_vec())
        );
        assert_eq!(
            PauseRequest::parse(&args("CLIENT PAUSE 1 all x"), 0),
            Err(b"ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP."
                .to_vec())
        );
        assert_eq!(
            UnblockRequest::parse(&args("CLIENT UNBLOCK 5 ERROR")),
            Ok(UnblockRequest {
                id: 5,
                as_error: true
            })
        );
        assert_eq!(
            UnblockRequest::parse(&args("CLIENT UNBLOCK x foo")),
            Err(b"ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR".to_vec())
        );
    }

    #[test]
    fn names_are_printable_without_spaces() {
        assert!(validate_name(b"sentinel-1a2b3c4d-cmd").is_ok());
        assert!(validate_name(b"").is_ok());
        assert!(validate_name(b"a b").is_err());
        assert!(validate_name(b"a\nb").is_err());
    }
}

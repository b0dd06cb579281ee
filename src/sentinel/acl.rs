//! `ACL` on the monitor, and the ACL log of failed authentications.
//!
//! The monitor has one user, `default`, with every permission: without
//! `requirepass` it needs no password (`nopass`), with it the password is
//! `requirepass`. Every read-only subcommand answers as redis-sentinel 7.0
//! does for that setup (WHOAMI, USERS, LIST, GETUSER, CAT, DRYRUN, LOG,
//! GENPASS, HELP), and so do DELUSER (nothing to delete; `default` cannot
//! be), LOAD and SAVE (no ACL file). SETUSER, which would create users or
//! change permissions, is refused: users other than `default` are not
//! supported, and accepting rules without enforcing them would be worse.
//!
//! The log records failed AUTH and HELLO AUTH attempts the way Redis does:
//! the newest first, attempts alike (same user, same command) within a
//! minute grouped under one entry with a count, at most 128 entries.

use std::collections::VecDeque;

use super::command_table::{self, Lookup, COMMANDS};
use crate::node::commands::acl;
use crate::node::commands::introspect::acl_category;
use crate::resp::errors::{c_str, subcommand_syntax_error};
use crate::resp::reply::Reply;

/// Entries alike within this many milliseconds are grouped.
const GROUPING_MS: i64 = 60_000;
/// Redis's `acllog-max-len` default.
const MAX_ENTRIES: usize = 128;

const NO_ACL_FILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

/// One entry of `ACL LOG`.
#[derive(Debug, Clone, PartialEq)]
struct LogEntry {
    count: u64,
    /// The command as the client typed its name (`AUTH`, `hello`).
    object: Vec<u8>,
    username: Vec<u8>,
    created_ms: i64,
    /// The client's `CLIENT LIST` line at the time, without the newline.
    client_info: String,
}

/// The ACL log, newest entry first.
#[derive(Debug, Default)]
pub struct AclLog {
    entries: VecDeque<LogEntry>,
}

impl AclLog {
    /// Record a failed authentication of `username` by the command named
    /// `object`, from the client described by `client_info`.
    pub fn auth_failed(&mut self, object: &[u8], username: &[u8], client_info: &str, now_ms: i64) {
        let info = client_info.trim_end_matches('\n').to_string();
        let alike = self.entries.iter().position(|e| {
            e.object == object && e.username == username && now_ms - e.created_ms <= GROUPING_MS
        });
        let entry = match alike.and_then(|i| self.entries.remove(i)) {
            Some(mut e) => {
                e.count += 1;
                e.created_ms = now_ms;
                e.client_info = info;
                e
            }
            None => LogEntry {
                count: 1,
                object: object.to_vec(),
                username: username.to_vec(),
                created_ms: now_ms,
                client_info: info,
            },
        };
        self.entries.push_front(entry);
        self.entries.truncate(MAX_ENTRIES);
    }

    fn write(&self, count: usize, now_ms: i64, r: &mut Reply) {
        let n = count.min(self.entries.len());
        r.array(n);
        for e in self.entries.iter().take(n) {
            r.map(7);
            r.bulk(b"count");
            r.int(e.count as i64);
            r.bulk(b"reason");
            r.bulk(b"auth");
            r.bulk(b"context");
            r.bulk(b"toplevel");
            r.bulk(b"object");
            r.bulk(&e.object);
            r.bulk(b"username");
            r.bulk(&e.username);
            r.bulk(b"age-seconds");
            r.double((now_ms - e.created_ms) as f64 / 1000.0);
            r.bulk(b"client-info");
            r.bulk(e.client_info.as_bytes());
        }
    }
}

/// The default user's password (SHA-256, hex) as ACL shows it.
fn password_hash(pass: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(pass.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Run `ACL <sub> ...`; `requirepass` is the default user's password.
pub fn acl(
    argv: &[&[u8]],
    requirepass: Option<&str>,
    log: &mut AclLog,
    now_ms: i64,
    r: &mut Reply,
) -> Result<(), Vec<u8>> {
    let sub = String::from_utf8_lossy(c_str(argv[1])).to_ascii_lowercase();
    let is_default = |name: &[u8]| name == b"default";
    match sub.as_str() {
        "whoami" => r.bulk(b"default"),
        "users" => {
            r.array(1);
            r.bulk(b"default");
        }
        "list" => {
            let pass = match requirepass {
                Some(p) => format!("#{}", password_hash(p)),
                None => "nopass".into(),
            };
            r.array(1);
            r.bulk(format!("user default on {pass} ~* &* +@all").as_bytes());
        }
        "getuser" if !is_default(argv[2]) => r.null(),
        "getuser" => {
            r.map(6);
            r.bulk(b"flags");
            r.set(if requirepass.is_some() { 1 } else { 2 });
            r.bulk(b"on");
            if requirepass.is_none() {
                r.bulk(b"nopass");
            }
            r.bulk(b"passwords");
            match requirepass {
                Some(p) => {
                    r.array(1);
                    r.bulk(password_hash(p).as_bytes());
                }
                None => r.array(0),
            }
            r.bulk(b"commands");
            r.bulk(b"+@all");
            r.bulk(b"keys");
            r.bulk(b"~*");
            r.bulk(b"channels");
            r.bulk(b"&*");
            r.bulk(b"selectors");
            r.array(0);
        }
        "cat" if argv.len() > 3 => return Err(subcommand_syntax_error(argv[1], "acl")),
        "cat" if argv.len() == 2 => {
            r.array(acl::NAMES.len());
            for name in acl::NAMES {
                r.bulk(name.as_bytes());
            }
        }
        "cat" => {
            let Some(bit) = acl_category(argv[2]) else {
                let mut msg = b"ERR Unknown category '".to_vec();
                msg.extend_from_slice(argv[2]);
                msg.push(b'\'');
                return Err(msg);
            };
            let names: Vec<&str> = COMMANDS
                .iter()
                .flat_map(|c| std::iter::once(c).chain(c.subcommands))
                .filter(|c| c.acl_categories() & bit != 0)
                .map(|c| c.full_name)
                .collect();
            r.array(names.len());
            for name in names {
                r.bulk(name.as_bytes());
            }
        }
        "dryrun" => {
            if !is_default(argv[2]) {
                let mut msg = b"ERR User '".to_vec();
                msg.extend_from_slice(argv[2]);
                msg.extend_from_slice(b"' not found");
                return Err(msg);
            }
            let line = &argv[3..];
            let Lookup::Command(cmd) = command_table::lookup(line) else {
                let mut msg = b"ERR Command '".to_vec();
                msg.extend_from_slice(argv[3]);
                msg.extend_from_slice(b"' not found");
                return Err(msg);
            };
            if !cmd.arity_ok(line.len()) {
                return Err(crate::resp::errors::wrong_arity(cmd.full_name));
            }
            // The default user may run everything.
            r.ok();
        }
        "deluser" => {
            if argv[2..].iter().any(|name| is_default(name)) {
                return Err(b"ERR The 'default' user cannot be removed".to_vec());
            }
            r.int(0);
        }
        "genpass" => {
            let bits = match argv.get(2) {
                Some(a) => crate::util::num::parse_i64(a)
                    .ok_or(b"ERR value is not an integer or out of range".to_vec())?,
                None => 256,
            };
            if !(1..=4096).contains(&bits) {
                return Err(b"ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096".to_vec());
            }
            r.bulk(random_hex((bits as usize).div_ceil(4)).as_bytes());
        }
        "log" if argv.len() > 3 => return Err(subcommand_syntax_error(argv[1], "acl")),
        "log" => {
            let mut count = 10;
            if let Some(arg) = argv.get(2) {
                if c_str(arg).eq_ignore_ascii_case(b"reset") {
                    log.entries.clear();
                    r.ok();
                    return Ok(());
                }
                let n = crate::util::num::parse_i64(arg)
                    .ok_or(b"ERR value is not an integer or out of range".to_vec())?;
                count = n.max(0) as usize;
            }
            log.write(count, now_ms, r);
        }
        "load" | "save" => return Err(NO_ACL_FILE.as_bytes().to_vec()),
        "setuser" => {
            return Err(b"ERR ACL SETUSER is not supported: this Sentinel has only the 'default' user (set its password with requirepass)".to_vec())
        }
        "help" => r.help("ACL", HELP),
        _ => unreachable!("the endpoint looked the subcommand up in the table"),
    }
    Ok(())
}

/// `n` hex digits from the operating system's random source.
fn random_hex(n: usize) -> String {
    use rand::RngCore;
    let mut bytes = vec![0u8; n.div_ceil(2)];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let mut hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex.truncate(n);
    hex
}

/// The lines of `ACL HELP`, as redis-sentinel 7.0.15 prints them.
const HELP: &[&str] = &[
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn run(line: &str, pass: Option<&str>, log: &mut AclLog, resp3: bool) -> String {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        let mut r = Reply::new();
        r.set_resp3(resp3);
        match acl(&args, pass, log, 10_000, &mut r) {
            Ok(()) => String::from_utf8_lossy(r.bytes()).into_owned(),
            Err(e) => format!("-{}\r\n", String::from_utf8_lossy(&e)),
        }
    }

    fn say(line: &str) -> String {
        run(line, None, &mut AclLog::default(), false)
    }

    #[test]
    fn the_default_user_without_a_password() {
        assert_eq!(say("ACL WHOAMI"), "$7\r\ndefault\r\n");
        assert_eq!(say("ACL USERS"), "*1\r\n$7\r\ndefault\r\n");
        assert_eq!(
            say("ACL LIST"),
            "*1\r\n$34\r\nuser default on nopass ~* &* +@all\r\n"
        );
        assert_eq!(
            say("ACL GETUSER default"),
            "*12\r\n$5\r\nflags\r\n*2\r\n$2\r\non\r\n$6\r\nnopass\r\n$9\r\npasswords\r\n*0\r\n\
             $8\r\ncommands\r\n$5\r\n+@all\r\n$4\r\nkeys\r\n$2\r\n~*\r\n$8\r\nchannels\r\n$2\r\n&*\r\n\
             $9\r\nselectors\r\n*0\r\n"
        );
        assert_eq!(say("ACL GETUSER nobody"), "$-1\r\n");
    }

    #[test]
    fn the_default_user_with_requirepass() {
        // Captured from redis-sentinel 7.0.15 with `requirepass secret`.
        let hash = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";
        let mut log = AclLog::default();
        assert_eq!(
            run("ACL LIST", Some("secret"), &mut log, false),
            format!("*1\r\n$93\r\nuser default on #{hash} ~* &* +@all\r\n")
        );
        let user = run("ACL GETUSER default", Some("secret"), &mut log, true);
        assert!(
            user.starts_with(&format!(
                "%6\r\n$5\r\nflags\r\n~1\r\n$2\r\non\r\n$9\r\npasswords\r\n*1\r\n$64\r\n{hash}\r\n"
            )),
            "{user}"
        );
    }

    #[test]
    fn categories_and_dry_runs() {
        assert!(say("ACL CAT").starts_with("*21\r\n$8\r\nkeyspace\r\n$4\r\nread\r\n"));
        assert_eq!(
            say("ACL CAT PUBSUB"),
            "*5\r\n$9\r\nsubscribe\r\n$11\r\nunsubscribe\r\n$10\r\npsubscribe\r\n$12\r\npunsubscribe\r\n$7\r\npublish\r\n"
        );
        assert_eq!(say("ACL CAT keyspace"), "*0\r\n");
        assert_eq!(say("ACL CAT foo"), "-ERR Unknown category 'foo'\r\n");
        assert_eq!(
            say("ACL CAT a b"),
            "-ERR unknown subcommand or wrong number of arguments for 'CAT'. Try ACL HELP.\r\n"
        );
        assert_eq!(say("ACL DRYRUN default sentinel masters"), "+OK\r\n");
        assert_eq!(
            say("ACL DRYRUN default get k"),
            "-ERR Command 'get' not found\r\n"
        );
        assert_eq!(
            say("ACL DRYRUN default client foo"),
            "-ERR Command 'client' not found\r\n"
        );
        assert_eq!(
            say("ACL DRYRUN default client"),
            "-ERR wrong number of arguments for 'client' command\r\n"
        );
        assert_eq!(say("ACL DRYRUN bob ping"), "-ERR User 'bob' not found\r\n");
    }

    #[test]
    fn users_cannot_be_added_or_removed() {
        assert_eq!(say("ACL DELUSER nobody"), ":0\r\n");
        assert_eq!(
            say("ACL DELUSER nobody default"),
            "-ERR The 'default' user cannot be removed\r\n"
        );
        assert_eq!(say("ACL SAVE"), format!("-{NO_ACL_FILE}\r\n"));
        assert!(say("ACL SETUSER bob on").starts_with("-ERR ACL SETUSER is not supported"));
    }

    #[test]
    fn generated_passwords_have_a_digit_per_four_bits() {
        assert!(say("ACL GENPASS").starts_with("$64\r\n"));
        assert_eq!(say("ACL GENPASS 1").len(), "$1\r\nx\r\n".len());
        assert!(say("ACL GENPASS 5").starts_with("$2\r\n"));
        assert!(say("ACL GENPASS 4096").starts_with("$1024\r\n"));
        assert!(say("ACL GENPASS 0").starts_with("-ERR ACL GENPASS argument must be"));
        assert_eq!(
            say("ACL GENPASS x"),
            "-ERR value is not an integer or out of range\r\n"
        );
    }

    #[test]
    fn the_log_groups_alike_failures_newest_first() {
        let mut log = AclLog::default();
        log.auth_failed(b"AUTH", b"default", "id=3 cmd=auth\n", 1_000);
        log.auth_failed(b"AUTH", b"bob", "id=3 cmd=auth\n", 2_000);
        log.auth_failed(b"AUTH", b"default", "id=4 cmd=auth\n", 3_000);
        log.auth_failed(
            b"AUTH",
            b"default",
            "id=5 cmd=auth\n",
            3_000 + GROUPING_MS + 1,
        );
        let out = run("ACL LOG 2", None, &mut log, false);
        // Four failures, three entries: the last came too late to group.
        assert_eq!(log.entries.len(), 3);
        assert!(
            out.starts_with("*2\r\n*14\r\n$5\r\ncount\r\n:1\r\n"),
            "{out}"
        );
        assert!(out.contains("$6\r\nreason\r\n$4\r\nauth\r\n$7\r\ncontext\r\n$8\r\ntoplevel\r\n$6\r\nobject\r\n$4\r\nAUTH\r\n"));
        assert_eq!(log.entries[1].count, 2);
        assert_eq!(log.entries[1].client_info, "id=4 cmd=auth");
        let resp3 = run("ACL LOG 1", None, &mut log, true);
        assert!(resp3.contains("$11\r\nage-seconds\r\n,"), "{resp3}");
        assert_eq!(run("ACL LOG -1", None, &mut log, false), "*0\r\n");
        assert_eq!(
            run("ACL LOG x", None, &mut log, false),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(run("ACL LOG RESET", None, &mut log, false), "+OK\r\n");
        assert_eq!(run("ACL LOG", None, &mut log, false), "*0\r\n");
    }
}

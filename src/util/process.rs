//! Facts about the running process that `INFO` reports the same way in the
//! node and the monitor: the OS line, the build id, and the CPU section
//! (`getrusage` of the process, its children and the main thread). Reads
//! only; nothing here keeps state.

use std::fmt::Write as _;

/// `Linux <release> <machine>`, from uname.
pub fn os_name() -> String {
    // SAFETY: uname only writes into the zeroed struct we pass.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return "Linux".into();
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!(
        "{} {} {}",
        field(&u.sysname),
        field(&u.release),
        field(&u.machine)
    )
}

/// A stable id of this build (Redis prints a hash of its build).
pub fn build_id() -> String {
    let version = env!("CARGO_PKG_VERSION");
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in version.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    format!("{h:016x}")
}

/// What differs between the node's and the monitor's `# Server` section.
pub struct ServerFacts<'a> {
    /// `standalone` or `sentinel`.
    pub mode: &'a str,
    pub run_id: &'a str,
    pub port: u16,
    pub uptime_secs: u64,
    pub hz: u32,
    pub configured_hz: u32,
    pub lru_clock: u64,
    pub executable: &'a str,
    pub config_file: &'a str,
}

/// The `# Server` section, field for field as Redis 7.0 prints it.
pub fn write_server_section(out: &mut String, f: &ServerFacts) {
    let _ = write!(
        out,
        "# Server\r\n\
         redis_version:{version}\r\n\
         redis_git_sha1:00000000\r\n\
         redis_git_dirty:0\r\n\
         redis_build_id:{build}\r\n\
         redis_mode:{mode}\r\n\
         os:{os}\r\n\
         arch_bits:64\r\n\
         monotonic_clock:POSIX clock_gettime\r\n\
         multiplexing_api:epoll\r\n\
         atomicvar_api:c11-builtin\r\n\
         gcc_version:0.0.0\r\n\
         process_id:{pid}\r\n\
         process_supervised:no\r\n\
         run_id:{run_id}\r\n\
         tcp_port:{port}\r\n\
         server_time_usec:{now_us}\r\n\
         uptime_in_seconds:{uptime}\r\n\
         uptime_in_days:{days}\r\n\
         hz:{hz}\r\n\
         configured_hz:{configured_hz}\r\n\
         lru_clock:{lru}\r\n\
         executable:{exe}\r\n\
         config_file:{config}\r\n\
         io_threads_active:0\r\n",
        version = crate::node::REDIS_VERSION,
        build = build_id(),
        mode = f.mode,
        os = os_name(),
        pid = std::process::id(),
        run_id = f.run_id,
        port = f.port,
        now_us = crate::node::unix_us(),
        uptime = f.uptime_secs,
        days = f.uptime_secs / 86400,
        hz = f.hz,
        configured_hz = f.configured_hz,
        lru = f.lru_clock,
        exe = f.executable,
        config = f.config_file,
    );
}

/// The `# CPU` section: system and user time of the process, of its
/// waited-for children and of the calling (main) thread.
pub fn write_cpu_section(out: &mut String) {
    let usage = |who| {
        // SAFETY: getrusage only writes into the zeroed struct we pass.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut ru) };
        let t = |tv: libc::timeval| format!("{}.{:06}", tv.tv_sec, tv.tv_usec);
        (t(ru.ru_stime), t(ru.ru_utime))
    };
    let (sys, user) = usage(libc::RUSAGE_SELF);
    let (csys, cuser) = usage(libc::RUSAGE_CHILDREN);
    let (tsys, tuser) = usage(libc::RUSAGE_THREAD);
    let _ = write!(
        out,
        "# CPU\r\n\
         used_cpu_sys:{sys}\r\n\
         used_cpu_user:{user}\r\n\
         used_cpu_sys_children:{csys}\r\n\
         used_cpu_user_children:{cuser}\r\n\
         used_cpu_sys_main_thread:{tsys}\r\n\
         used_cpu_user_main_thread:{tuser}\r\n"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_section_has_redis_fields_with_microseconds() {
        let mut out = String::new();
        write_cpu_section(&mut out);
        let lines: Vec<&str> = out.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines[0], "# CPU");
        assert_eq!(lines.len(), 7);
        for line in &lines[1..] {
            let (_, value) = line.split_once(':').expect("field:value");
            let (_, micros) = value.split_once('.').expect("seconds.micros");
            assert_eq!(micros.len(), 6, "{line}");
        }
    }

    #[test]
    fn the_build_id_is_sixteen_hex_digits() {
        let id = build_id();
        assert_eq!(id.len(), 16);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}

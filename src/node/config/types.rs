//! Value types of configuration directives: how each is parsed from text
//! (a `CONFIG SET` argument, or a config file line's arguments joined by
//! spaces) and rendered back for `CONFIG GET` and `CONFIG REWRITE`.
//!
//! Error texts are Redis 7.0's, because operators and tests match on them.

use super::Spec;

/// A configuration value type.
pub trait Setting: Sized {
    fn parse(text: &str, spec: &Spec) -> Result<Self, String>;
    fn render(&self, spec: &Spec) -> String;

    /// Apply an assignment to the current value (`CONFIG SET`, a config
    /// line). Most types replace the value; some merge.
    fn assign(&mut self, text: &str, spec: &Spec) -> Result<(), String> {
        *self = Self::parse(text, spec)?;
        Ok(())
    }
}

impl Setting for bool {
    fn parse(text: &str, _: &Spec) -> Result<Self, String> {
        if text.eq_ignore_ascii_case("yes") {
            Ok(true)
        } else if text.eq_ignore_ascii_case("no") {
            Ok(false)
        } else {
            Err("argument must be 'yes' or 'no'".into())
        }
    }
    fn render(&self, _: &Spec) -> String {
        if *self { "yes" } else { "no" }.into()
    }
}

impl Setting for i64 {
    fn parse(text: &str, spec: &Spec) -> Result<Self, String> {
        let (value, min, max) = match *spec {
            Spec::Int(min, max) => {
                let v = crate::util::num::parse_i64(text.as_bytes())
                    .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
                (v as i128, min, max)
            }
            Spec::Memory(min, max) => {
                let v = parse_memory(text)
                    .ok_or_else(|| "argument must be a memory value".to_string())?;
                (v as i128, min, max)
            }
            Spec::MemoryOrPercent(min, max) => {
                let v = parse_memory(text)
                    .map(|v| v as i128)
                    .or_else(|| parse_percent(text).map(|p| -(p as i128)))
                    .ok_or_else(|| "argument must be a memory or percent value".to_string())?;
                // Percentages are stored negated, as Redis does; their own
                // bound is the (negated) lower limit.
                if v < 0 {
                    if v < min as i128 {
                        return Err(format!(
                            "percentage argument must be less or equal to {}",
                            -(min as i128)
                        ));
                    }
                    return Ok(v as i64);
                }
                (v, min, max)
            }
            Spec::Octal(max) => {
                let v = i64::from_str_radix(text, 8)
                    .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
                if v < 0 || v > max {
                    return Err(format!("argument must be between 0 and {max} inclusive"));
                }
                return Ok(v);
            }
            _ => unreachable!("integer directive with a non-integer spec"),
        };
        if value < min as i128 || value > max as i128 {
            return Err(format!(
                "argument must be between {min} and {max} inclusive"
            ));
        }
        Ok(value as i64)
    }
    fn render(&self, spec: &Spec) -> String {
        match spec {
            Spec::Octal(_) => format!("{:o}", self),
            Spec::MemoryOrPercent(..) if *self < 0 => format!("{}%", -(*self as i128)),
            _ => self.to_string(),
        }
    }
}

impl Setting for String {
    fn parse(text: &str, _: &Spec) -> Result<Self, String> {
        Ok(text.to_string())
    }
    fn render(&self, _: &Spec) -> String {
        self.clone()
    }
}

/// Redis's `memtoull`: digits with an optional unit (`b`, `k`=1000,
/// `kb`=1024, `m`, `mb`, `g`, `gb`; case-insensitive). No sign.
pub fn parse_memory(text: &str) -> Option<u64> {
    let digits_end = text
        .bytes()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    let n: u64 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    n.checked_mul(mul)
}

/// `N%` with `N` a non-negative integer in Redis's strict syntax.
fn parse_percent(text: &str) -> Option<i64> {
    let digits = text.strip_suffix('%').filter(|d| !d.is_empty())?;
    crate::util::num::parse_i64(digits.as_bytes()).filter(|n| *n >= 0)
}

/// The arguments of a multi-argument directive given as one string
/// (`CONFIG SET save "900 1"`): split on single spaces like Redis, so
/// doubled or trailing spaces make empty arguments, and "" makes none.
pub fn split_value(text: &str) -> Vec<&str> {
    if text.is_empty() {
        Vec::new()
    } else {
        text.split(' ').collect()
    }
}

/// C's `strtoll` over a whole argument, as Redis uses it for save points,
/// output-limit seconds and OOM scores: leading blanks and a sign are
/// accepted, trailing bytes are not, and no digits at all reads as 0 only
/// when the argument is empty. Out-of-range values saturate.
pub fn c_strtoll(text: &str) -> Option<i64> {
    let s = text.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest.is_empty() || !rest.bytes().all(|c| c.is_ascii_digit()) {
        // No conversion: the end pointer stays at the start of the text.
        return text.is_empty().then_some(0);
    }
    let mut v: i128 = 0;
    for c in rest.bytes() {
        v = (v * 10 + (c - b'0') as i128).min(i64::MAX as i128 + 1);
    }
    let v = if negative { -v } else { v };
    Some(v.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

/// Declare an enum directive type whose values are fixed names.
macro_rules! config_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const NAMES: &'static [&'static str] = &[$($text),+];
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl Setting for $name {
            fn parse(text: &str, _: &Spec) -> Result<Self, String> {
                $(if text.eq_ignore_ascii_case($text) { return Ok($name::$variant); })+
                Err(format!("argument(s) must be one of the following: {}", Self::NAMES.join(", ")))
            }
            fn render(&self, _: &Spec) -> String {
                self.name().to_string()
            }
        }
    };
}

config_enum!(LogLevel { Debug = "debug", Verbose = "verbose", Notice = "notice", Warning = "warning" });
config_enum!(AppendFsync { Everysec = "everysec", Always = "always", No = "no" });
config_enum!(
    /// Vigil's `log-format`: Redis's log layout, or one JSON object per line.
    LogFormat { Text = "text", Json = "json" }
);
config_enum!(MaxmemoryPolicy {
    VolatileLru = "volatile-lru",
    VolatileLfu = "volatile-lfu",
    VolatileRandom = "volatile-random",
    VolatileTtl = "volatile-ttl",
    AllkeysLru = "allkeys-lru",
    AllkeysLfu = "allkeys-lfu",
    AllkeysRandom = "allkeys-random",
    NoEviction = "noeviction",
});
config_enum!(Supervised { Upstart = "upstart", Systemd = "systemd", Auto = "auto", No = "no" });
config_enum!(
    /// `enable-debug-command` and friends: allowed for everyone, nobody, or
    /// connections from loopback.
    Permission { No = "no", Yes = "yes", Local = "local" }
);
config_enum!(ReplDisklessLoad { Disabled = "disabled", OnEmptyDb = "on-empty-db", Swapdb = "swapdb" });
config_enum!(PropagationErrorBehavior { Ignore = "ignore", Panic = "panic", PanicOnReplicas = "panic-on-replicas" });
config_enum!(SanitizeDumpPayload { No = "no", Yes = "yes", Clients = "clients" });
config_enum!(OomScoreAdj { No = "no", Yes = "yes", Relative = "relative", Absolute = "absolute" });
config_enum!(EndpointType { Ip = "ip", Hostname = "hostname", UnknownEndpoint = "unknown-endpoint" });
config_enum!(AclPubsubDefault { AllChannels = "allchannels", ResetChannels = "resetchannels" });
config_enum!(TlsAuthClients { No = "no", Yes = "yes", Optional = "optional" });
config_enum!(SyslogFacility {
    User = "user",
    Local0 = "local0",
    Local1 = "local1",
    Local2 = "local2",
    Local3 = "local3",
    Local4 = "local4",
    Local5 = "local5",
    Local6 = "local6",
    Local7 = "local7",
});

/// `shutdown-on-sigterm` / `shutdown-on-sigint`: a set of flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShutdownFlags {
    pub save: bool,
    pub nosave: bool,
    pub now: bool,
    pub force: bool,
}

impl Setting for ShutdownFlags {
    fn parse(text: &str, _: &Spec) -> Result<Self, String> {
        let mut flags = ShutdownFlags::default();
        let err = || {
            "argument(s) must be one of the following: default, save, nosave, now, force"
                .to_string()
        };
        let words = split_value(text);
        if words.is_empty() {
            return Err(err());
        }
        for word in words {
            match word.to_ascii_lowercase().as_str() {
                "default" => {}
                "save" => flags.save = true,
                "nosave" => flags.nosave = true,
                "now" => flags.now = true,
                "force" => flags.force = true,
                _ => return Err(err()),
            }
        }
        Ok(flags)
    }
    fn render(&self, _: &Spec) -> String {
        let words: Vec<&str> = [
            (self.save, "save"),
            (self.nosave, "nosave"),
            (self.now, "now"),
            (self.force, "force"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, w)| *w)
        .collect();
        if words.is_empty() {
            "default".into()
        } else {
            words.join(" ")
        }
    }
}

/// `save <seconds> <changes> ...`: the automatic snapshot rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavePoints(pub Vec<(i64, i64)>);

impl Setting for SavePoints {
    fn parse(text: &str, _: &Spec) -> Result<Self, String> {
        let words = split_value(text);
        let invalid = || "Invalid save parameters".to_string();
        if !words.len().is_multiple_of(2) {
            return Err(invalid());
        }
        let mut points = Vec::new();
        for pair in words.chunks(2) {
            let seconds = c_strtoll(pair[0]).ok_or_else(invalid)?;
            let changes = c_strtoll(pair[1]).ok_or_else(invalid)?;
            if seconds < 1 || changes < 0 {
                return Err(invalid());
            }
            points.push((seconds, changes));
        }
        Ok(SavePoints(points))
    }
    fn render(&self, _: &Spec) -> String {
        self.0
            .iter()
            .map(|(s, c)| format!("{s} {c}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `bind`: the addresses to listen on (`-` prefix: optional, `*` any IPv4,
/// `::*` any IPv6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindAddrs(pub Vec<String>);

impl Setting for BindAddrs {
    fn parse(text: &str, _: &Spec) -> Result<Self, String> {
        let addrs: Vec<String> = split_value(text).into_iter().map(str::to_string).collect();
        if addrs.len() > 16 {
            return Err("Too many bind addresses specified.".into());
        }
        Ok(BindAddrs(addrs))
    }
    fn render(&self, _: &Spec) -> String {
        self.0.join(" ")
    }
}

/// One class of `client-output-buffer-limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

impl OutputLimit {
    /// The hard limit as a buffer size, `usize::MAX` when there is none.
    pub fn cap(&self) -> usize {
        match self.hard {
            0 => usize::MAX,
            hard => usize::try_from(hard).unwrap_or(usize::MAX),
        }
    }
}

/// `client-output-buffer-limit`: limits for normal, replica and pubsub clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputLimits {
    pub normal: OutputLimit,
    pub replica: OutputLimit,
    pub pubsub: OutputLimit,
}

impl Setting for OutputLimits {
    fn parse(text: &str, spec: &Spec) -> Result<Self, String> {
        let mut limits = OutputLimits::default();
        limits.assign(text, spec)?;
        Ok(limits)
    }

    /// Each assignment updates only the classes it names.
    fn assign(&mut self, text: &str, _: &Spec) -> Result<(), String> {
        let words = split_value(text);
        if !words.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        // Validate every group before changing anything.
        let mut limits = *self;
        for group in words.chunks(4) {
            let slot = match group[0].to_ascii_lowercase().as_str() {
                "normal" => &mut limits.normal,
                "slave" | "replica" => &mut limits.replica,
                "pubsub" => &mut limits.pubsub,
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".into(),
                    )
                }
            };
            let bad = || {
                "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                    .to_string()
            };
            let hard = parse_memory(group[1]).ok_or_else(bad)?;
            let soft = parse_memory(group[2]).ok_or_else(bad)?;
            // Redis keeps the seconds in a C int.
            let soft_seconds = c_strtoll(group[3])
                .map(|s| s as i32)
                .filter(|s| *s >= 0)
                .ok_or_else(bad)? as u64;
            *slot = OutputLimit {
                hard,
                soft,
                soft_seconds,
            };
        }
        *self = limits;
        Ok(())
    }
    fn render(&self, _: &Spec) -> String {
        let c = |name: &str, l: &OutputLimit| {
            format!("{name} {} {} {}", l.hard, l.soft, l.soft_seconds)
        };
        format!(
            "{} {} {}",
            c("normal", &self.normal),
            c("slave", &self.replica),
            c("pubsub", &self.pubsub)
        )
    }
}

impl Default for OutputLimits {
    fn default() -> Self {
        OutputLimits {
            normal: OutputLimit {
                hard: 0,
                soft: 0,
                soft_seconds: 0,
            },
            replica: OutputLimit {
                hard: 256 << 20,
                soft: 64 << 20,
                soft_seconds: 60,
            },
            pubsub: OutputLimit {
                hard: 32 << 20,
                soft: 8 << 20,
                soft_seconds: 60,
            },
        }
    }
}

/// `notify-keyspace-events` as class bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyspaceEvents(pub u32);

impl KeyspaceEvents {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const KEYEVENT: u32 = 1 << 1;
    pub const GENERIC: u32 = 1 << 2;
    pub const STRING: u32 = 1 << 3;
    pub const LIST: u32 = 1 << 4;
    pub const SET: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const ZSET: u32 = 1 << 7;
    pub const EXPIRED: u32 = 1 << 8;
    pub const EVICTED: u32 = 1 << 9;
    pub const STREAM: u32 = 1 << 10;
    pub const KEY_MISS: u32 = 1 << 11;
    pub const MODULE: u32 = 1 << 12;
    pub const NEW: u32 = 1 << 13;
    /// `A`: every class except key-miss and new.
    pub const ALL: u32 = Self::GENERIC
        | Self::STRING
        | Self::LIST
        | Self::SET
        | Self::HASH
        | Self::ZSET
        | Self::EXPIRED
        | Self::EVICTED
        | Self::STREAM
        | Self::MODULE;

    pub fn enabled(self, class: u32) -> bool {
        self.0 & class != 0 && self.0 & (Self::KEYSPACE | Self::KEYEVENT) != 0
    }
}

impl Setting for KeyspaceEvents {
    fn parse(text: &str, _: &Spec) -> Result<Self, String> {
        let mut bits = 0;
        for c in text.bytes() {
            bits |= match c {
                b'A' => Self::ALL,
                b'g' => Self::GENERIC,
                b'$' => Self::STRING,
                b'l' => Self::LIST,
                b's' => Self::SET,
                b'h' => Self::HASH,
                b'z' => Self::ZSET,
                b'x' => Self::EXPIRED,
                b'e' => Self::EVICTED,
                b'K' => Self::KEYSPACE,
                b'E' => Self::KEYEVENT,
                b't' => Self::STREAM,
                b'm' => Self::KEY_MISS,
                b'd' => Self::MODULE,
                b'n' => Self::NEW,
                _ => return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
            };
        }
        Ok(KeyspaceEvents(bits))
    }
    fn render(&self, _: &Spec) -> String {
        let mut out = String::new();
        if self.0 & Self::ALL == Self::ALL {
            out.push('A');
        } else {
            for (bit, c) in [
                (Self::GENERIC, 'g'),
                (Self::STRING, '$'),
                (Self::LIST, 'l'),
                (Self::SET, 's'),
                (Self::HASH, 'h'),
                (Self::ZSET, 'z'),
                (Self::EXPIRED, 'x'),
                (Self::EVICTED, 'e'),
                (Self::STREAM, 't'),
                (Self::MODULE, 'd'),
            ] {
                if self.0 & bit != 0 {
                    out.push(c);
                }
            }
            // Redis shows `n` only next to single classes, never after `A`.
            if self.0 & Self::NEW != 0 {
                out.push('n');
            }
        }
        if self.0 & Self::KEYSPACE != 0 {
            out.push('K');
        }
        if self.0 & Self::KEYEVENT != 0 {
            out.push('E');
        }
        if self.0 & Self::KEY_MISS != 0 {
            out.push('m');
        }
        out
    }
}

/// `oom-score-adj-values`: three values for master, replica, background child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OomScoreAdjValues(pub [i64; 3]);

impl Setting for OomScoreAdjValues {
    fn parse(text: &str, _: &Spec) -> Result<Self, String> {
        let words = split_value(text);
        if words.len() != 3 {
            return Err("wrong number of arguments".into());
        }
        let mut values = [0; 3];
        for (slot, w) in values.iter_mut().zip(&words) {
            *slot = c_strtoll(w)
                .filter(|v| (-2000..=2000).contains(v))
                .ok_or_else(|| {
                    "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
                        .to_string()
                })?;
        }
        Ok(OomScoreAdjValues(values))
    }
    fn render(&self, _: &Spec) -> String {
        format!("{} {} {}", self.0[0], self.0[1], self.0[2])
    }
}

/// `latency-tracking-info-percentiles`: percentiles shown by INFO latencystats.
#[derive(Clone, Debug, PartialEq)]
pub struct Percentiles(pub Vec<f64>);

impl Setting for Percentiles {
    fn parse(text: &str, _: &Spec) -> Result<Self, String> {
        let mut values = Vec::new();
        for w in split_value(text) {
            let v = crate::util::num::parse_f64(w.as_bytes()).ok_or_else(|| {
                "Invalid latency-tracking-info-percentiles parameters".to_string()
            })?;
            if !(0.0..=100.0).contains(&v) {
                return Err(
                    "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                        .into(),
                );
            }
            values.push(v);
        }
        Ok(Percentiles(values))
    }
    fn render(&self, _: &Spec) -> String {
        self.0
            .iter()
            .map(|v| format_percentile(*v))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Percentiles print like `%f` with trailing zeros removed (`99.9`, `50`).
pub fn format_percentile(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// `replicaof host port`, or none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplicaOf(pub Option<(String, u16)>);

impl Setting for ReplicaOf {
    fn parse(text: &str, _: &Spec) -> Result<Self, String> {
        let words = split_value(text);
        match words.as_slice() {
            [] => Ok(ReplicaOf(None)),
            [no, one] if no.eq_ignore_ascii_case("no") && one.eq_ignore_ascii_case("one") => {
                Ok(ReplicaOf(None))
            }
            [host, port] => {
                let port = port
                    .parse::<u16>()
                    .map_err(|_| "Invalid master port".to_string())?;
                Ok(ReplicaOf(Some((host.to_string(), port))))
            }
            _ => Err("wrong number of arguments".into()),
        }
    }
    fn render(&self, _: &Spec) -> String {
        match &self.0 {
            Some((host, port)) => format!("{host} {port}"),
            None => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("100MB"), Some(100 << 20));
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory("1x"), None);
    }

    #[test]
    fn keyspace_events_render_normalised() {
        let ev = |s: &str| {
            KeyspaceEvents::parse(s, &Spec::Special)
                .unwrap()
                .render(&Spec::Special)
        };
        assert_eq!(ev("KEA"), "AKE");
        assert_eq!(ev("Ex"), "xE");
        assert_eq!(ev("g$lshzxetdKE"), "AKE");
        assert_eq!(ev("Kmn"), "nKm");
        assert_eq!(ev("An"), "A");
        assert!(KeyspaceEvents::parse("Q", &Spec::Special).is_err());
    }

    #[test]
    fn save_points() {
        let p = SavePoints::parse("3600 1 300 100", &Spec::Special).unwrap();
        assert_eq!(p.render(&Spec::Special), "3600 1 300 100");
        assert!(SavePoints::parse("1", &Spec::Special).is_err());
        assert!(SavePoints::parse("0 1", &Spec::Special).is_err());
        assert_eq!(SavePoints::parse("", &Spec::Special).unwrap().0, vec![]);
    }
}

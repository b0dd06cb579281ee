//! The hello message monitors publish on `__sentinel__:hello` every 2 s
//! (spec/sentinel.md 2.5): eight comma-separated fields, exactly as
//! redis-sentinel writes them, so real Sentinels and Vigil monitors learn
//! about each other and about the master each one advertises.

/// The hello channel.
pub const CHANNEL: &str = "__sentinel__:hello";

/// One hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub ip: String,
    pub port: u16,
    pub runid: String,
    pub current_epoch: u64,
    pub master_name: String,
    pub master_ip: String,
    pub master_port: u16,
    pub master_config_epoch: u64,
}

impl Hello {
    /// The payload, as redis-sentinel formats it.
    pub fn format(&self) -> String {
        format!(
            "{},{},{},{},{},{},{},{}",
            self.ip,
            self.port,
            self.runid,
            self.current_epoch,
            self.master_name,
            self.master_ip,
            self.master_port,
            self.master_config_epoch
        )
    }

    /// Parse a payload; `None` unless it has exactly the eight fields
    /// with numbers where numbers go (anything else is silently dropped,
    /// as redis-sentinel does).
    pub fn parse(payload: &str) -> Option<Hello> {
        let f: Vec<&str> = payload.split(',').collect();
        if f.len() != 8 {
            return None;
        }
        Some(Hello {
            ip: f[0].to_string(),
            port: f[1].parse().ok()?,
            runid: f[2].to_string(),
            current_epoch: f[3].parse().ok()?,
            master_name: f[4].to_string(),
            master_ip: f[5].to_string(),
            master_port: f[6].parse().ok()?,
            master_config_epoch: f[7].parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_captured_hello_round_trips() {
        let text =
            "127.0.0.1,26380,439c6bdafbb292442543ecab20235fa36c328755,1,mymaster,127.0.0.1,6382,1";
        let h = Hello::parse(text).unwrap();
        assert_eq!((h.port, h.current_epoch, h.master_port), (26380, 1, 6382));
        assert_eq!(h.format(), text);
        assert!(Hello::parse("a,b,c").is_none());
        assert!(Hello::parse("127.0.0.1,x,id,1,m,127.0.0.1,6382,1").is_none());
    }
}

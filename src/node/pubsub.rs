//! Pub/Sub: channel and pattern subscriptions, message delivery, and
//! keyspace notifications (which are messages on `__keyspace@N__:` and
//! `__keyevent@N__:` channels).
//!
//! Delivery appends a push frame to each subscriber's reply buffer and
//! schedules its connection to flush it; nothing waits for a subscriber.
//! A subscriber that does not read is cut off once its buffer passes the
//! `client-output-buffer-limit pubsub` limits, so a slow subscriber never
//! stalls publishers (the monitors' hello protocol and clients' failover
//! notifications ride on this).

use std::collections::HashMap;

use crate::node::client::{Client, ClientId};
use crate::node::config::types::{KeyspaceEvents, OutputLimit};
use crate::node::config::Settings;
use crate::node::Node;
use crate::resp::reply::Reply;
use crate::util::glob;

#[derive(Default)]
pub struct PubSub {
    /// Channel → subscribers, in subscription order.
    pub channels: HashMap<Vec<u8>, Vec<ClientId>>,
    /// Pattern → subscribers, in subscription order.
    pub patterns: HashMap<Vec<u8>, Vec<ClientId>>,
    /// Shard channel (SSUBSCRIBE) → subscribers.
    pub shard_channels: HashMap<Vec<u8>, Vec<ClientId>>,
}

impl PubSub {
    /// Drop every subscription of a disconnecting client.
    pub fn forget_client(&mut self, client: &mut Client) {
        for ch in client.channels.drain() {
            remove_subscriber(&mut self.channels, &ch, client.id);
        }
        for pat in client.patterns.drain() {
            remove_subscriber(&mut self.patterns, &pat, client.id);
        }
        for ch in client.shard_channels.drain() {
            remove_subscriber(&mut self.shard_channels, &ch, client.id);
        }
    }
}

fn remove_subscriber(map: &mut HashMap<Vec<u8>, Vec<ClientId>>, name: &[u8], id: ClientId) {
    if let Some(ids) = map.get_mut(name) {
        ids.retain(|&c| c != id);
        if ids.is_empty() {
            map.remove(name);
        }
    }
}

/// Write a `message` push.
fn write_message(r: &mut Reply, channel: &[u8], message: &[u8]) {
    r.push(3);
    r.bulk(b"message");
    r.bulk(channel);
    r.bulk(message);
}

/// Write an `smessage` push.
fn write_smessage(r: &mut Reply, channel: &[u8], message: &[u8]) {
    r.push(3);
    r.bulk(b"smessage");
    r.bulk(channel);
    r.bulk(message);
}

/// Write a `pmessage` push.
fn write_pmessage(r: &mut Reply, pattern: &[u8], channel: &[u8], message: &[u8]) {
    r.push(4);
    r.bulk(b"pmessage");
    r.bulk(pattern);
    r.bulk(channel);
    r.bulk(message);
}

/// Write a (un)subscribe confirmation: `[kind, name, count]`.
pub fn write_confirmation(r: &mut Reply, kind: &[u8], name: Option<&[u8]>, count: usize) {
    r.push(3);
    r.bulk(kind);
    match name {
        Some(n) => r.bulk(n),
        None => r.null(),
    }
    r.int(count as i64);
}

impl Node {
    pub fn subscribe(&mut self, cur: &mut Client, channel: &[u8]) {
        if cur.channels.insert(channel.to_vec()) {
            self.pubsub
                .channels
                .entry(channel.to_vec())
                .or_default()
                .push(cur.id);
        }
        let count = cur.subscriptions();
        write_confirmation(&mut cur.reply, b"subscribe", Some(channel), count);
    }

    pub fn unsubscribe(&mut self, cur: &mut Client, channel: &[u8]) {
        if cur.channels.remove(channel) {
            remove_subscriber(&mut self.pubsub.channels, channel, cur.id);
        }
        let count = cur.subscriptions();
        write_confirmation(&mut cur.reply, b"unsubscribe", Some(channel), count);
    }

    pub fn psubscribe(&mut self, cur: &mut Client, pattern: &[u8]) {
        if cur.patterns.insert(pattern.to_vec()) {
            self.pubsub
                .patterns
                .entry(pattern.to_vec())
                .or_default()
                .push(cur.id);
        }
        let count = cur.subscriptions();
        write_confirmation(&mut cur.reply, b"psubscribe", Some(pattern), count);
    }

    pub fn punsubscribe(&mut self, cur: &mut Client, pattern: &[u8]) {
        if cur.patterns.remove(pattern) {
            remove_subscriber(&mut self.pubsub.patterns, pattern, cur.id);
        }
        let count = cur.subscriptions();
        write_confirmation(&mut cur.reply, b"punsubscribe", Some(pattern), count);
    }

    pub fn ssubscribe(&mut self, cur: &mut Client, channel: &[u8]) {
        if cur.shard_channels.insert(channel.to_vec()) {
            self.pubsub
                .shard_channels
                .entry(channel.to_vec())
                .or_default()
                .push(cur.id);
        }
        let count = cur.shard_channels.len();
        write_confirmation(&mut cur.reply, b"ssubscribe", Some(channel), count);
    }

    pub fn sunsubscribe(&mut self, cur: &mut Client, channel: &[u8]) {
        if cur.shard_channels.remove(channel) {
            remove_subscriber(&mut self.pubsub.shard_channels, channel, cur.id);
        }
        let count = cur.shard_channels.len();
        write_confirmation(&mut cur.reply, b"sunsubscribe", Some(channel), count);
    }

    /// Deliver `message` to subscribers of the shard channel; returns the
    /// number of deliveries.
    pub fn spublish(&mut self, cur: &mut Client, channel: &[u8], message: &[u8]) -> usize {
        let ids = self
            .pubsub
            .shard_channels
            .get(channel)
            .cloned()
            .unwrap_or_default();
        for &id in &ids {
            self.push_to(cur, id, |r| write_smessage(r, channel, message));
        }
        ids.len()
    }

    /// Deliver `message` to subscribers of `channel` and of matching
    /// patterns; returns the number of deliveries.
    pub fn publish(&mut self, cur: &mut Client, channel: &[u8], message: &[u8]) -> usize {
        let mut receivers = 0;
        if let Some(ids) = self.pubsub.channels.get(channel) {
            let ids = ids.clone();
            for id in ids {
                self.push_to(cur, id, |r| write_message(r, channel, message));
                receivers += 1;
            }
        }
        if !self.pubsub.patterns.is_empty() {
            let matching: Vec<(Vec<u8>, Vec<ClientId>)> = self
                .pubsub
                .patterns
                .iter()
                .filter(|(p, _)| glob::matches(p, channel, false))
                .map(|(p, ids)| (p.clone(), ids.clone()))
                .collect();
            for (pattern, ids) in matching {
                for id in ids {
                    self.push_to(cur, id, |r| write_pmessage(r, &pattern, channel, message));
                    receivers += 1;
                }
            }
        }
        receivers
    }

    /// Append a push to a client's output and enforce its output buffer
    /// limits (a subscriber over the limit is closed, not waited for).
    pub fn push_to(&mut self, cur: &mut Client, target: ClientId, write: impl FnOnce(&mut Reply)) {
        let now = self.now_ms;
        let settings = &self.config.settings;
        let limit = if cur.id == target {
            output_limit(settings, cur)
        } else {
            match self.clients.get(target) {
                Some(c) => output_limit(settings, c),
                None => return,
            }
        };
        self.with_client(cur, target, |c| {
            if c.close_asap {
                return;
            }
            // The push stops growing the buffer at the hard limit; the
            // check below then closes the client.
            let before = c.reply.limit();
            c.reply.set_limit(limit.cap());
            write(&mut c.reply);
            enforce_output_limit(c, &limit, now);
            c.reply.set_limit(before);
        });
    }

    /// Publish a keyspace notification for `key` in `db` if `class` is on.
    pub fn notify_keyspace_event(
        &mut self,
        cur: &mut Client,
        class: u32,
        event: &str,
        key: &[u8],
        db: usize,
    ) {
        let events = self.config.settings.notify_keyspace_events;
        if !events.enabled(class) {
            return;
        }
        if events.0 & KeyspaceEvents::KEYSPACE != 0 {
            let mut channel = format!("__keyspace@{db}__:").into_bytes();
            channel.extend_from_slice(key);
            self.publish(cur, &channel, event.as_bytes());
        }
        if events.0 & KeyspaceEvents::KEYEVENT != 0 {
            let channel = format!("__keyevent@{db}__:{event}").into_bytes();
            self.publish(cur, &channel, key);
        }
    }
}

/// The output buffer limits of a client's class, as Redis's
/// `getClientOutputBufferLimitClass`: replicas (not monitors), then
/// subscribers, then everyone else (our master's link included) normal.
pub fn output_limit(settings: &Settings, c: &Client) -> OutputLimit {
    let limits = &settings.client_output_buffer_limit;
    if c.is_attached_replica() && !c.monitor {
        limits.replica
    } else if c.is_subscriber() {
        limits.pubsub
    } else {
        limits.normal
    }
}

/// Close a client whose pending output passed its class's hard limit, or
/// stayed over the soft limit for longer than allowed.
pub fn enforce_output_limit(c: &mut Client, limit: &OutputLimit, now_ms: i64) {
    // Already on its way out: logged and counted once, as in Redis.
    if c.close_asap {
        return;
    }
    let used = c.reply.len() as u64;
    // A reply dropped at the hard limit (Reply::set_limit) counts as over.
    let over_hard = limit.hard > 0 && (used >= limit.hard || c.reply.overflowed());
    let over_soft = limit.soft > 0 && used >= limit.soft;
    if over_soft {
        let since = *c.soft_limit_since_ms.get_or_insert(now_ms);
        if !over_hard && now_ms - since <= limit.soft_seconds as i64 * 1000 {
            return;
        }
    } else {
        c.soft_limit_since_ms = None;
    }
    if over_hard || over_soft {
        log_output_limit_close(c, now_ms);
        c.close_asap = true;
        c.reply.truncate(0);
    }
}

/// Redis's log line for a client cut off by its output buffer limits,
/// naming it by its CLIENT LIST line (operators grep for this text); the
/// event is counted for the metrics.
pub fn log_output_limit_close(c: &Client, now_ms: i64) {
    use crate::node::stats::{count_disconnection, OUTPUT_LIMIT_DISCONNECTIONS};
    count_disconnection(&OUTPUT_LIMIT_DISCONNECTIONS);
    let info = crate::node::commands::client_cmd::client_info_line(c, now_ms, 0);
    tracing::warn!(
        "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
        info.trim_end()
    );
}

//! The Pub/Sub registry: channel, pattern and shard-channel subscriptions,
//! and message fan-out into each subscriber's push queue.
//!
//! A message is encoded once per RESP version and queued on every
//! matching subscriber's channel; the subscriber's connection task writes
//! it. Bytes queued and not yet written count against the subscriber's
//! `client-output-buffer-limit pubsub`: a subscriber that stops reading is
//! disconnected (hard limit at once, soft limit after its grace period)
//! without slowing the publisher or other subscribers.

use super::client::{ClientHandle, OutputLimits};
use bytes::Bytes;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

/// A subscribed client as the registry sees it.
pub struct Subscriber {
    pub h: Arc<ClientHandle>,
    pub tx: UnboundedSender<Bytes>,
}

type Subs = Vec<Arc<Subscriber>>;

#[derive(Default)]
pub struct PubSub {
    channels: RwLock<HashMap<Bytes, Subs>>,
    patterns: RwLock<Vec<(Bytes, Arc<Subscriber>)>>,
    shard_channels: RwLock<HashMap<Bytes, Subs>>,
}

fn frame(proto: u8, parts: &[&[u8]]) -> Bytes {
    let mut v = Vec::with_capacity(32 + parts.iter().map(|p| p.len() + 16).sum::<usize>());
    let mut num = itoa::Buffer::new();
    v.push(if proto >= 3 { b'>' } else { b'*' });
    v.extend_from_slice(num.format(parts.len()).as_bytes());
    v.extend_from_slice(b"\r\n");
    for p in parts {
        v.push(b'$');
        v.extend_from_slice(num.format(p.len()).as_bytes());
        v.extend_from_slice(b"\r\n");
        v.extend_from_slice(p);
        v.extend_from_slice(b"\r\n");
    }
    Bytes::from(v)
}

/// Queues `msg` for `s`, enforcing the output-buffer limits.
fn deliver(s: &Subscriber, msg: &Bytes, lim: OutputLimits) {
    if s.h.killed.load(Ordering::Relaxed) {
        return;
    }
    let queued = s.h.omem.fetch_add(msg.len(), Ordering::Relaxed) + msg.len();
    if lim.exceeded(&s.h, queued) {
        s.h.omem.fetch_sub(msg.len(), Ordering::Relaxed);
        s.h.request_kill();
        return;
    }
    if s.tx.send(msg.clone()).is_err() {
        s.h.omem.fetch_sub(msg.len(), Ordering::Relaxed);
    }
}

/// Which kind of subscription.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl PubSub {
    /// Adds a subscription; false if the client already had it.
    pub fn subscribe(&self, kind: Kind, name: &Bytes, sub: &Arc<Subscriber>) -> bool {
        match kind {
            Kind::Pattern => {
                let mut p = self.patterns.write();
                if p.iter().any(|(n, s)| n == name && s.h.id == sub.h.id) {
                    return false;
                }
                p.push((name.clone(), sub.clone()));
                true
            }
            _ => {
                let map = if kind == Kind::Channel {
                    &self.channels
                } else {
                    &self.shard_channels
                };
                let mut m = map.write();
                let v = m.entry(name.clone()).or_default();
                if v.iter().any(|s| s.h.id == sub.h.id) {
                    return false;
                }
                v.push(sub.clone());
                true
            }
        }
    }

    /// Removes a subscription; false if the client did not have it.
    pub fn unsubscribe(&self, kind: Kind, name: &[u8], id: u64) -> bool {
        match kind {
            Kind::Pattern => {
                let mut p = self.patterns.write();
                let before = p.len();
                p.retain(|(n, s)| !(n.as_ref() == name && s.h.id == id));
                p.len() != before
            }
            _ => {
                let map = if kind == Kind::Channel {
                    &self.channels
                } else {
                    &self.shard_channels
                };
                let mut m = map.write();
                let Some(v) = m.get_mut(name) else {
                    return false;
                };
                let before = v.len();
                v.retain(|s| s.h.id != id);
                let removed = v.len() != before;
                if v.is_empty() {
                    m.remove(name);
                }
                removed
            }
        }
    }

    /// PUBLISH / SPUBLISH: delivers to channel subscribers, then (for
    /// PUBLISH) to every matching pattern; returns the receiver count.
    pub fn publish(&self, shard: bool, channel: &[u8], msg: &[u8], lim: OutputLimits) -> usize {
        let mut n = 0;
        let mut enc: [Option<Bytes>; 2] = [None, None];
        let kind: &[u8] = if shard { b"smessage" } else { b"message" };
        {
            let map = if shard {
                self.shard_channels.read()
            } else {
                self.channels.read()
            };
            if let Some(v) = map.get(channel) {
                for s in v {
                    let proto = s.h.resp.load(Ordering::Relaxed);
                    let slot = &mut enc[(proto >= 3) as usize];
                    let m = slot.get_or_insert_with(|| frame(proto, &[kind, channel, msg]));
                    deliver(s, m, lim);
                    n += 1;
                }
            }
        }
        if shard {
            return n;
        }
        let pats = self.patterns.read();
        for (p, s) in pats.iter() {
            if crate::util::glob_match(p, channel, false) {
                let proto = s.h.resp.load(Ordering::Relaxed);
                let m = frame(proto, &[b"pmessage", p, channel, msg]);
                deliver(s, &m, lim);
                n += 1;
            }
        }
        n
    }

    /// Channels with at least one subscriber, optionally matching a pattern.
    pub fn channels(&self, shard: bool, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let map = if shard {
            self.shard_channels.read()
        } else {
            self.channels.read()
        };
        map.keys()
            .filter(|c| pattern.is_none_or(|p| crate::util::glob_match(p, c, false)))
            .cloned()
            .collect()
    }

    pub fn numsub(&self, shard: bool, channel: &[u8]) -> usize {
        let map = if shard {
            self.shard_channels.read()
        } else {
            self.channels.read()
        };
        map.get(channel).map(|v| v.len()).unwrap_or(0)
    }

    pub fn numpat(&self) -> usize {
        let p = self.patterns.read();
        let mut names: Vec<&Bytes> = p.iter().map(|(n, _)| n).collect();
        names.sort();
        names.dedup();
        names.len()
    }

    /// Whether anyone listens on channels or patterns at all (keyspace
    /// notifications skip all work when nobody does).
    pub fn has_subscribers(&self) -> bool {
        !self.channels.read().is_empty() || !self.patterns.read().is_empty()
    }
}

/// Encodes a subscription confirmation (`subscribe`, `unsubscribe`, ...).
pub fn confirmation(proto: u8, kind: &[u8], name: Option<&[u8]>, count: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(64);
    v.push(if proto >= 3 { b'>' } else { b'*' });
    v.extend_from_slice(b"3\r\n");
    v.push(b'$');
    v.extend_from_slice(kind.len().to_string().as_bytes());
    v.extend_from_slice(b"\r\n");
    v.extend_from_slice(kind);
    v.extend_from_slice(b"\r\n");
    match name {
        Some(n) => {
            v.push(b'$');
            v.extend_from_slice(n.len().to_string().as_bytes());
            v.extend_from_slice(b"\r\n");
            v.extend_from_slice(n);
            v.extend_from_slice(b"\r\n");
        }
        None => v.extend_from_slice(if proto >= 3 { b"_\r\n" } else { b"$-1\r\n" }),
    }
    v.push(b':');
    v.extend_from_slice(count.to_string().as_bytes());
    v.extend_from_slice(b"\r\n");
    v
}

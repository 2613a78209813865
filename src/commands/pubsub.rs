//! Pub/Sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB.

use super::{Cmd, CmdResult, Ctx};
use crate::server::pubsub::{confirmation, Kind, Subscriber};
use bytes::Bytes;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("subscribe", -2, "pubsub noscript loading stale", subscribe).doc("pubsub", "2.0.0", "O(N) where N is the number of channels to subscribe to.", "Listens for messages published to channels."),
    Cmd::new("unsubscribe", -1, "pubsub noscript loading stale", unsubscribe).doc("pubsub", "2.0.0", "O(N) where N is the number of channels to unsubscribe.", "Stops listening to messages posted to channels."),
    Cmd::new("psubscribe", -2, "pubsub noscript loading stale", psubscribe).doc("pubsub", "2.0.0", "O(N) where N is the number of patterns to subscribe to.", "Listens for messages published to channels that match one or more patterns."),
    Cmd::new("punsubscribe", -1, "pubsub noscript loading stale", punsubscribe).doc("pubsub", "2.0.0", "O(N) where N is the number of patterns to unsubscribe.", "Stops listening to messages published to channels that match one or more patterns."),
    Cmd::new("ssubscribe", -2, "pubsub noscript loading stale", ssubscribe).keys(1, -1, 1, "NOT_KEY").doc("pubsub", "7.0.0", "O(N) where N is the number of shard channels to subscribe to.", "Listens for messages published to shard channels."),
    Cmd::new("sunsubscribe", -1, "pubsub noscript loading stale", sunsubscribe).keys(1, -1, 1, "NOT_KEY").doc("pubsub", "7.0.0", "O(N) where N is the number of shard channels to unsubscribe.", "Stops listening to messages posted to shard channels."),
    Cmd::new("publish", 3, "pubsub loading stale fast may_replicate", publish).doc("pubsub", "2.0.0", "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).", "Posts a message to a channel."),
    Cmd::new("spublish", 3, "pubsub loading stale fast may_replicate", spublish).keys(1, 1, 1, "NOT_KEY").doc("pubsub", "7.0.0", "O(N) where N is the number of clients subscribed to the receiving shard channel.", "Post a message to a shard channel"),
    Cmd::container("pubsub", -2, PUBSUB_SUBS).doc("pubsub", "2.8.0", "Depends on subcommand.", "A container for Pub/Sub commands."),
];

static PUBSUB_SUBS: &[Cmd] = &[
    Cmd::new("channels", -2, "pubsub loading stale", pubsub_channels).doc("pubsub", "2.8.0", "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)", "Returns the active channels."),
    Cmd::new("numsub", -2, "pubsub loading stale", pubsub_numsub).doc("pubsub", "2.8.0", "O(N) for the NUMSUB subcommand, where N is the number of requested channels", "Returns a count of subscribers to channels."),
    Cmd::new("numpat", 2, "pubsub loading stale", pubsub_numpat).doc("pubsub", "2.8.0", "O(1)", "Returns a count of unique pattern subscriptions."),
    Cmd::new("shardchannels", -2, "pubsub loading stale", pubsub_shardchannels).doc("pubsub", "7.0.0", "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).", "Returns the active shard channels."),
    Cmd::new("shardnumsub", -2, "pubsub loading stale", pubsub_shardnumsub).doc("pubsub", "7.0.0", "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels", "Returns the count of subscribers of shard channels."),
    Cmd::new("help", 2, "loading stale", pubsub_help).doc("pubsub", "6.2.0", "O(1)", "Returns helpful text about the different subcommands."),
];

fn me(ctx: &mut Ctx) -> Arc<Subscriber> {
    ctx.cl
        .subs
        .me
        .get_or_insert_with(|| {
            Arc::new(Subscriber {
                h: ctx.cl.h.clone(),
                tx: ctx.cl.push_tx.clone(),
            })
        })
        .clone()
}

fn list_of<'c>(ctx: &'c mut Ctx, kind: Kind) -> &'c mut Vec<Bytes> {
    match kind {
        Kind::Channel => &mut ctx.cl.subs.channels,
        Kind::Pattern => &mut ctx.cl.subs.patterns,
        Kind::Shard => &mut ctx.cl.subs.shard,
    }
}

fn count_for(ctx: &Ctx, kind: Kind) -> usize {
    match kind {
        Kind::Shard => ctx.cl.subs.shard.len(),
        _ => ctx.cl.subs.count(),
    }
}

fn sync_counts(ctx: &Ctx) {
    let c = &ctx.cl.h.sub_counts;
    c[0].store(ctx.cl.subs.channels.len(), Ordering::Relaxed);
    c[1].store(ctx.cl.subs.patterns.len(), Ordering::Relaxed);
    c[2].store(ctx.cl.subs.shard.len(), Ordering::Relaxed);
}

/// Subscription replies are pushes: CLIENT REPLY OFF/SKIP does not
/// silence them (outside a transaction they follow the reply).
fn emit(ctx: &mut Ctx, frame: &[u8]) {
    if ctx.cl.reply_mode != crate::server::client::ReplyMode::On && !ctx.cl.in_exec {
        crate::server::tracking::push_after_reply(frame);
    } else {
        ctx.out.raw(frame);
    }
}

fn sub_generic(ctx: &mut Ctx, kind: Kind, word: &[u8]) -> CmdResult {
    let me = me(ctx);
    let names: Vec<Bytes> = ctx.args[1..].to_vec();
    for n in names {
        if ctx.srv.pubsub.subscribe(kind, &n, &me) {
            list_of(ctx, kind).push(n.clone());
        }
        let c = count_for(ctx, kind);
        let f = confirmation(ctx.out.proto, word, Some(&n), c);
        emit(ctx, &f);
    }
    sync_counts(ctx);
    Ok(())
}

fn unsub_generic(ctx: &mut Ctx, kind: Kind, word: &[u8]) -> CmdResult {
    let names: Vec<Bytes> = if ctx.args.len() > 1 {
        ctx.args[1..].to_vec()
    } else {
        list_of(ctx, kind).clone()
    };
    if names.is_empty() {
        let c = count_for(ctx, kind);
        let f = confirmation(ctx.out.proto, word, None, c);
        emit(ctx, &f);
        return Ok(());
    }
    let id = ctx.cl.h.id;
    for n in names {
        if ctx.srv.pubsub.unsubscribe(kind, &n, id) {
            list_of(ctx, kind).retain(|x| *x != n);
        }
        let c = count_for(ctx, kind);
        let f = confirmation(ctx.out.proto, word, Some(&n), c);
        emit(ctx, &f);
    }
    sync_counts(ctx);
    Ok(())
}

/// Drops every subscription of a closing (or RESET) client.
pub fn unsubscribe_all(srv: &crate::server::Server, cl: &mut crate::server::Client) {
    let id = cl.h.id;
    for c in cl.subs.channels.drain(..) {
        srv.pubsub.unsubscribe(Kind::Channel, &c, id);
    }
    for p in cl.subs.patterns.drain(..) {
        srv.pubsub.unsubscribe(Kind::Pattern, &p, id);
    }
    for s in cl.subs.shard.drain(..) {
        srv.pubsub.unsubscribe(Kind::Shard, &s, id);
    }
    for c in &cl.h.sub_counts {
        c.store(0, Ordering::Relaxed);
    }
}

fn subscribe(ctx: &mut Ctx) -> CmdResult {
    sub_generic(ctx, Kind::Channel, b"subscribe")
}
fn unsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsub_generic(ctx, Kind::Channel, b"unsubscribe")
}
fn psubscribe(ctx: &mut Ctx) -> CmdResult {
    sub_generic(ctx, Kind::Pattern, b"psubscribe")
}
fn punsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsub_generic(ctx, Kind::Pattern, b"punsubscribe")
}
fn ssubscribe(ctx: &mut Ctx) -> CmdResult {
    sub_generic(ctx, Kind::Shard, b"ssubscribe")
}
fn sunsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsub_generic(ctx, Kind::Shard, b"sunsubscribe")
}

fn publish(ctx: &mut Ctx) -> CmdResult {
    // Replicas get the message too (not the AOF), as Redis does outside cluster mode.
    crate::server::propagate::force_repl();
    let n = ctx.srv.pubsub.publish(
        false,
        &ctx.args[1],
        &ctx.args[2],
        ctx.srv.output_limits(crate::config::COBL_PUBSUB),
    );
    ctx.out.int(n as i64);
    Ok(())
}

fn spublish(ctx: &mut Ctx) -> CmdResult {
    // Replicas get the message too (not the AOF), as Redis does outside cluster mode.
    crate::server::propagate::force_repl();
    let n = ctx.srv.pubsub.publish(
        true,
        &ctx.args[1],
        &ctx.args[2],
        ctx.srv.output_limits(crate::config::COBL_PUBSUB),
    );
    ctx.out.int(n as i64);
    Ok(())
}

fn channels_generic(ctx: &mut Ctx, shard: bool) -> CmdResult {
    if ctx.args.len() > 3 {
        return Err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(&ctx.args[1])
        )
        .into());
    }
    let pat = ctx.args.get(2).map(|p| p.to_vec());
    let list = ctx.srv.pubsub.channels(shard, pat.as_deref());
    ctx.out.bulks(list.iter());
    Ok(())
}

fn pubsub_channels(ctx: &mut Ctx) -> CmdResult {
    channels_generic(ctx, false)
}
fn pubsub_shardchannels(ctx: &mut Ctx) -> CmdResult {
    channels_generic(ctx, true)
}

fn numsub_generic(ctx: &mut Ctx, shard: bool) -> CmdResult {
    let names: Vec<Bytes> = ctx.args[2..].to_vec();
    ctx.out.map(names.len());
    for n in names {
        ctx.out.bulk(&n);
        ctx.out.int(ctx.srv.pubsub.numsub(shard, &n) as i64);
    }
    Ok(())
}

fn pubsub_numsub(ctx: &mut Ctx) -> CmdResult {
    numsub_generic(ctx, false)
}
fn pubsub_shardnumsub(ctx: &mut Ctx) -> CmdResult {
    numsub_generic(ctx, true)
}

fn pubsub_numpat(ctx: &mut Ctx) -> CmdResult {
    ctx.out.int(ctx.srv.pubsub.numpat() as i64);
    Ok(())
}

fn pubsub_help(ctx: &mut Ctx) -> CmdResult {
    super::server::help_reply(
        ctx,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Report the channels with subscribers, optionally matching <pattern>.",
            "NUMPAT",
            "    Report how many distinct patterns are subscribed.",
            "NUMSUB [<channel> ...]",
            "    Report the subscriber count of each channel.",
            "SHARDCHANNELS [<pattern>]",
            "    Report the shard channels with subscribers.",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Report the subscriber count of each shard channel.",
        ],
    );
    Ok(())
}

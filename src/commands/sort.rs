//! SORT and SORT_RO over lists, sets and sorted sets.
//!
//! BY and GET patterns name arbitrary keys (`weight_*`, `obj_*->field`),
//! so both commands lock every shard (`all_shards`); the key spec still
//! names the sorted key and the STORE destination for COMMAND GETKEYS.

use super::{lookup_read, Cmd, CmdErr, CmdResult, Ctx, SYNTAX, WRONGTYPE};
use crate::config::{NOTIFY_GENERIC, NOTIFY_LIST};
use crate::server::EncodingLimits;
use crate::store::types::List;
use crate::store::Value;
use crate::util::{eq_ic, parse_i64};
use bytes::Bytes;
use std::cmp::Ordering;

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("sort", -2, "write denyoom", sort).keys(1, 1, 1, "RO ACCESS;OW UPDATE").getkeys(sort_keys).all_shards().acl("@set @sortedset @list @dangerous").doc("generic", "1.0.0", "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).", "Sorts the elements in a list, a set, or a sorted set, optionally storing the result."),
    Cmd::new("sort_ro", -2, "readonly movablekeys", sort_ro).keys(1, 1, 1, "RO ACCESS").all_shards().acl("@set @sortedset @list @dangerous").doc("generic", "7.0.0", "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).", "Returns the sorted elements of a list, a set, or a sorted set."),
];

/// Key positions of SORT: the sorted key and the last STORE destination.
fn sort_keys(args: &[Bytes]) -> Vec<usize> {
    let mut out = vec![1];
    let mut store = None;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if eq_ic(a, "limit") {
            i += 2;
        } else if eq_ic(a, "get") || eq_ic(a, "by") {
            i += 1;
        } else if eq_ic(a, "store") && i + 1 < args.len() {
            store = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    if let Some(s) = store {
        out.push(s);
    }
    out
}

fn sort(ctx: &mut Ctx) -> CmdResult {
    sort_generic(ctx, false)
}

fn sort_ro(ctx: &mut Ctx) -> CmdResult {
    sort_generic(ctx, true)
}

/// `strtod` over the whole string, as SORT converts weights: leading
/// spaces, hex and `inf` are accepted; trailing garbage, overflow and NaN
/// are conversion errors. An empty string converts to 0.
fn strtod_full(b: &[u8]) -> Option<f64> {
    let mut buf = Vec::with_capacity(b.len() + 1);
    buf.extend_from_slice(b);
    buf.push(0);
    // SAFETY: `buf` is NUL-terminated and outlives the call; errno is the
    // calling thread's.
    unsafe {
        *libc::__errno_location() = 0;
        let mut end: *mut libc::c_char = std::ptr::null_mut();
        let v = libc::strtod(buf.as_ptr() as *const libc::c_char, &mut end);
        let err = *libc::__errno_location() == libc::ERANGE;
        if *end != 0 || err || v.is_nan() {
            None
        } else {
            Some(v)
        }
    }
}

/// What a BY / GET pattern designates for one element.
enum Target<'a> {
    /// `#`: the element itself.
    Itself,
    /// No `*` in the pattern: nothing.
    Nothing,
    /// A key, and optionally a hash field.
    Key(Vec<u8>, Option<&'a [u8]>),
}

fn expand<'a>(pat: &'a [u8], elem: &[u8]) -> Target<'a> {
    if pat == b"#" {
        return Target::Itself;
    }
    let Some(star) = pat.iter().position(|&c| c == b'*') else {
        return Target::Nothing;
    };
    let rest = &pat[star + 1..];
    let (post, field) = match rest.windows(2).position(|w| w == b"->") {
        Some(p) if p + 2 < rest.len() => (&rest[..p], Some(&rest[p + 2..])),
        _ => (rest, None),
    };
    let mut k = Vec::with_capacity(star + elem.len() + post.len());
    k.extend_from_slice(&pat[..star]);
    k.extend_from_slice(elem);
    k.extend_from_slice(post);
    Target::Key(k, field)
}

/// Looks up what a pattern designates (a string key or a hash field).
fn lookup_pattern(ctx: &mut Ctx, pat: &[u8], elem: &[u8]) -> Option<Vec<u8>> {
    match expand(pat, elem) {
        Target::Itself => Some(elem.to_vec()),
        Target::Nothing => None,
        Target::Key(k, field) => {
            let e = lookup_read(ctx.lk, ctx.access(), &k)?;
            match (field, &e.val) {
                (None, v) => v.as_str().map(|s| s.to_vec()),
                (Some(f), Value::Hash(h)) => h.get(f).map(|v| v.to_vec()),
                _ => None,
            }
        }
    }
}

struct Item {
    obj: Vec<u8>,
    score: f64,
    cmp: Option<Vec<u8>>,
}

fn sort_generic(ctx: &mut Ctx, readonly: bool) -> CmdResult {
    let args = ctx.args;
    let (mut desc, mut alpha) = (false, false);
    let (mut limit_start, mut limit_count) = (0i64, -1i64);
    let mut dontsort = false;
    let mut sortby: Option<&[u8]> = None;
    let mut store: Option<&[u8]> = None;
    let mut gets: Vec<&[u8]> = Vec::new();
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if eq_ic(a, "asc") {
            desc = false;
        } else if eq_ic(a, "desc") {
            desc = true;
        } else if eq_ic(a, "alpha") {
            alpha = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            limit_start = parse_i64(&args[j + 1]).ok_or(CmdErr::from(super::NOT_INT))?;
            limit_count = parse_i64(&args[j + 2]).ok_or(CmdErr::from(super::NOT_INT))?;
            j += 2;
        } else if !readonly && eq_ic(a, "store") && left >= 1 {
            store = Some(&args[j + 1]);
            j += 1;
        } else if eq_ic(a, "by") && left >= 1 {
            sortby = Some(&args[j + 1]);
            if !args[j + 1].contains(&b'*') {
                dontsort = true;
            }
            j += 1;
        } else if eq_ic(a, "get") && left >= 1 {
            gets.push(&args[j + 1]);
            j += 1;
        } else {
            return Err(SYNTAX.into());
        }
        j += 1;
    }

    enum Kind {
        List,
        Set,
        ZSet,
    }
    let acc = ctx.access();
    let kind = match lookup_read(ctx.lk, acc, &args[1]) {
        None => None,
        Some(e) => match &mut e.val {
            Value::List(_) => Some(Kind::List),
            Value::Set(_) => Some(Kind::Set),
            Value::ZSet(z) => {
                // Redis converts a sorted set to its skiplist encoding
                // before sorting it (even for SORT_RO and BY nosort).
                z.to_big();
                Some(Kind::ZSet)
            }
            _ => return Err(WRONGTYPE.into()),
        },
    };
    if dontsort
        && matches!(kind, Some(Kind::Set))
        && (store.is_some() || crate::scripting::frozen_now().is_some())
    {
        // Unordered set output must be deterministic when stored or seen
        // by a script.
        dontsort = false;
        alpha = true;
        sortby = None;
    }

    // Load the elements (a direct range for ordered types when not sorting).
    let (db, _) = ctx.lk.db(ctx.cl.db, &args[1]);
    let val = db.dict.get(&args[1]).map(|e| &e.val);
    let total = match val {
        Some(Value::List(l)) => l.len(),
        Some(Value::Set(s)) => s.len(),
        Some(Value::ZSet(z)) => z.len(),
        _ => 0,
    } as i64;
    let mut start = limit_start.max(0);
    let mut end = if limit_count < 0 {
        total - 1
    } else {
        start.saturating_add(limit_count) - 1
    };
    if start >= total {
        start = total - 1;
        end = total - 2;
    }
    if end >= total {
        end = total - 1;
    }
    let ordered = matches!(kind, Some(Kind::List) | Some(Kind::ZSet));
    let mut vlen = total;
    if ordered && dontsort && (start != 0 || end != total - 1) {
        vlen = end - start + 1;
    }
    let mut objs: Vec<Vec<u8>> = Vec::with_capacity(vlen.max(0) as usize);
    match val {
        Some(Value::List(l)) if dontsort => {
            if end >= start {
                let n = vlen as usize;
                if desc {
                    let from = (total - start - 1) as usize;
                    objs.extend(l.iter_rev_from(from).take(n).map(|e| e.to_vec()));
                } else {
                    objs.extend(l.iter_from(start as usize).take(n).map(|e| e.to_vec()));
                }
                end -= start;
                start = 0;
            }
        }
        Some(Value::List(l)) => objs.extend(l.iter().map(|e| e.to_vec())),
        Some(Value::Set(s)) => s.for_each(|m| objs.push(m.to_vec())),
        Some(Value::ZSet(z)) if dontsort => {
            let n = vlen.max(0) as usize;
            if n > 0 {
                let from = if desc {
                    (total - 1 - start) as usize
                } else {
                    start as usize
                };
                z.walk(from, desc, |m, _| {
                    objs.push(m.to_vec());
                    objs.len() < n
                });
            }
            end -= start;
            start = 0;
        }
        Some(Value::ZSet(z)) => z.walk(0, false, |m, _| {
            objs.push(m.to_vec());
            true
        }),
        _ => {}
    }

    let mut items: Vec<Item> = objs
        .into_iter()
        .map(|obj| Item {
            obj,
            score: 0.0,
            cmp: None,
        })
        .collect();
    if !dontsort {
        let mut conv_error = false;
        for it in items.iter_mut() {
            let byval = match sortby {
                Some(p) => match lookup_pattern(ctx, p, &it.obj) {
                    Some(v) => v,
                    None => continue,
                },
                None => it.obj.clone(),
            };
            if alpha {
                if sortby.is_some() {
                    it.cmp = Some(byval);
                }
            } else {
                match strtod_full(&byval) {
                    Some(v) => it.score = v,
                    None => conv_error = true,
                }
            }
        }
        let by = sortby.is_some();
        let cmp = |a: &Item, b: &Item| -> Ordering {
            let c = if !alpha {
                match a.score.partial_cmp(&b.score) {
                    Some(Ordering::Equal) | None => a.obj.cmp(&b.obj),
                    Some(o) => o,
                }
            } else if by {
                match (&a.cmp, &b.cmp) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(x), Some(y)) => x.cmp(y),
                }
            } else {
                a.obj.cmp(&b.obj)
            };
            if desc {
                c.reverse()
            } else {
                c
            }
        };
        items.sort_by(cmp);
        if conv_error {
            return Err("ERR One or more scores can't be converted into double".into());
        }
    }

    let range: &[Item] = if end >= start && start >= 0 {
        &items[start as usize..=(end as usize).min(items.len().saturating_sub(1))]
    } else {
        &[]
    };
    let outlen = if gets.is_empty() {
        range.len()
    } else {
        gets.len() * range.len()
    };
    // Resolve the output values (GET patterns) first.
    let mut out: Vec<Option<Vec<u8>>> = Vec::with_capacity(outlen);
    for it in range {
        if gets.is_empty() {
            out.push(Some(it.obj.clone()));
        } else {
            for g in &gets {
                out.push(lookup_pattern(ctx, g, &it.obj));
            }
        }
    }
    match store {
        None => {
            ctx.out.array(out.len());
            for v in &out {
                match v {
                    Some(v) => ctx.out.bulk(v),
                    None => ctx.out.null(),
                }
            }
        }
        Some(dst) => {
            let fill = EncodingLimits::get(&ctx.srv.hot.enc.list_max_listpack_size);
            let lru = ctx.lru_now();
            let (db, _) = ctx.lk.db(ctx.cl.db, dst);
            if !out.is_empty() {
                let l = List::from_iter(out.iter().map(|v| v.as_deref().unwrap_or(b"")), fill);
                db.set(dst, Value::List(Box::new(l)), None, false, lru);
                ctx.notify(NOTIFY_LIST, "sortstore", dst);
                ctx.signal_ready(dst, out.len());
                ctx.dirty += out.len() as u64;
            } else if db.remove(dst).is_some() {
                ctx.notify(NOTIFY_GENERIC, "del", dst);
                ctx.dirty += 1;
            }
            ctx.out.int(out.len() as i64);
        }
    }
    Ok(())
}

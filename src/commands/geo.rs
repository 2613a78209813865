//! Geo commands (sorted sets of geohash scores).
//!
//! A position is stored as a sorted set member whose score is its 52-bit
//! geohash: longitude and latitude (the latter limited to the Web Mercator
//! range ±85.05112878) are each scaled to a 26-bit integer and their bits
//! interleaved, longitude in the odd positions. Decoding yields the centre
//! of the 26-bit cell, which is what GEOPOS prints.
//!
//! A radius or box search picks a geohash precision from the search size,
//! scans the score ranges of the centre cell and its eight neighbours
//! (dropping neighbours that lie outside the search's bounding box), and
//! keeps the points whose haversine distance (or box extent) qualifies.

use super::zsets::{limits, parse_score, store_result, zadd_apply, zread, AddFlags, ScoreRange};
use super::{Cmd, CmdErr, CmdResult, Ctx, NOT_FLOAT, NOT_INT, SYNTAX};
use crate::protocol::Reply;
use crate::store::types::zset::ZSet;
use crate::util::{eq_ic, parse_i64};
use bytes::Bytes;

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("geoadd", -5, "write denyoom", geoadd).keys(1, 1, 1, "RW UPDATE").acl("@geo").doc("geo", "3.2.0", "O(log(N)) for each item added, where N is the number of elements in the sorted set.", "Adds one or more members to a geospatial index. The key is created if it doesn't exist."),
    Cmd::new("geodist", -4, "readonly", geodist).keys(1, 1, 1, "RO ACCESS").acl("@geo").doc("geo", "3.2.0", "O(log(N))", "Returns the distance between two members of a geospatial index."),
    Cmd::new("geohash", -2, "readonly", geohash).keys(1, 1, 1, "RO ACCESS").acl("@geo").doc("geo", "3.2.0", "O(log(N)) for each member requested, where N is the number of elements in the sorted set.", "Returns members from a geospatial index as geohash strings."),
    Cmd::new("geopos", -2, "readonly", geopos).keys(1, 1, 1, "RO ACCESS").acl("@geo").doc("geo", "3.2.0", "O(N) where N is the number of members requested.", "Returns the longitude and latitude of members from a geospatial index."),
    Cmd::new("georadius", -6, "write denyoom", georadius).keys(1, 1, 1, "RO ACCESS").getkeys(radius_keys).acl("@geo").doc("geo", "3.2.0", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.", "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result."),
    Cmd::new("georadius_ro", -6, "readonly", georadius_ro).keys(1, 1, 1, "RO ACCESS").acl("@geo").doc("geo", "3.2.10", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.", "Returns members from a geospatial index that are within a distance from a coordinate."),
    Cmd::new("georadiusbymember", -5, "write denyoom", georadiusbymember).keys(1, 1, 1, "RO ACCESS").getkeys(radius_keys).acl("@geo").doc("geo", "3.2.0", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.", "Queries a geospatial index for members within a distance from a member, optionally stores the result."),
    Cmd::new("georadiusbymember_ro", -5, "readonly", georadiusbymember_ro).keys(1, 1, 1, "RO ACCESS").acl("@geo").doc("geo", "3.2.10", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.", "Returns members from a geospatial index that are within a distance from a member."),
    Cmd::new("geosearch", -7, "readonly", geosearch).keys(1, 1, 1, "RO ACCESS").acl("@geo").doc("geo", "6.2.0", "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape", "Queries a geospatial index for members inside an area of a box or a circle."),
    Cmd::new("geosearchstore", -8, "write denyoom", geosearchstore).keys(1, 2, 1, "OW UPDATE").acl("@geo").doc("geo", "6.2.0", "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape", "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result."),
];

// ---------------------------------------------------------------------------
// Geohash
// ---------------------------------------------------------------------------

const LAT_MIN: f64 = -85.05112878;
const LAT_MAX: f64 = 85.05112878;
const LON_MIN: f64 = -180.0;
const LON_MAX: f64 = 180.0;
const STEP_MAX: u8 = 26;
const EARTH_RADIUS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;

#[derive(Clone, Copy, PartialEq, Debug, Default)]
struct Hash {
    bits: u64,
    step: u8,
}

impl Hash {
    fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

#[derive(Clone, Copy, Debug)]
struct Area {
    lon_min: f64,
    lon_max: f64,
    lat_min: f64,
    lat_max: f64,
}

/// Spreads the 32 bits of `v` to the even bit positions of a u64.
fn spread(v: u32) -> u64 {
    let mut x = v as u64;
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    x = (x | (x << 1)) & 0x5555_5555_5555_5555;
    x
}

/// Gathers the even bit positions of `x` into a u32.
fn squash(x: u64) -> u32 {
    let mut x = x & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// Latitude bits in the even positions, longitude bits in the odd ones.
fn interleave(lat: u32, lon: u32) -> u64 {
    spread(lat) | (spread(lon) << 1)
}

/// (latitude part, longitude part).
fn deinterleave(bits: u64) -> (u32, u32) {
    (squash(bits), squash(bits >> 1))
}

/// Encodes a position at `step` bits per coordinate within the given
/// latitude range (the Mercator range for storage, ±90 for GEOHASH).
fn encode(lon: f64, lat: f64, step: u8, lat_min: f64, lat_max: f64) -> Option<Hash> {
    if !(LON_MIN..=LON_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_min || lat > lat_max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_off = (lat - lat_min) / (lat_max - lat_min) * scale;
    let lon_off = (lon - LON_MIN) / (LON_MAX - LON_MIN) * scale;
    Some(Hash {
        bits: interleave(lat_off as u32, lon_off as u32),
        step,
    })
}

fn decode(h: Hash) -> Area {
    let (ilat, ilon) = deinterleave(h.bits);
    let scale = (1u64 << h.step) as f64;
    let lat_scale = LAT_MAX - LAT_MIN;
    let lon_scale = LON_MAX - LON_MIN;
    Area {
        lat_min: LAT_MIN + (ilat as f64 / scale) * lat_scale,
        lat_max: LAT_MIN + ((ilat as f64 + 1.0) / scale) * lat_scale,
        lon_min: LON_MIN + (ilon as f64 / scale) * lon_scale,
        lon_max: LON_MIN + ((ilon as f64 + 1.0) / scale) * lon_scale,
    }
}

/// The centre of a cell, clamped to the valid ranges: (lon, lat).
fn area_center(a: &Area) -> (f64, f64) {
    let lon = ((a.lon_min + a.lon_max) / 2.0).clamp(LON_MIN, LON_MAX);
    let lat = ((a.lat_min + a.lat_max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// The position stored as a score.
fn score_to_lonlat(score: f64) -> (f64, f64) {
    area_center(&decode(Hash {
        bits: score as u64,
        step: STEP_MAX,
    }))
}

/// Moves a cell by `dx` cells east and `dy` cells north (wrapping).
fn moved(h: Hash, dx: i64, dy: i64) -> Hash {
    let (lat, lon) = deinterleave(h.bits);
    let mask = (1u64 << h.step) - 1;
    let lon = ((lon as u64).wrapping_add(dx as u64) & mask) as u32;
    let lat = ((lat as u64).wrapping_add(dy as u64) & mask) as u32;
    Hash {
        bits: interleave(lat, lon),
        step: h.step,
    }
}

fn deg_rad(d: f64) -> f64 {
    d * D_R
}

fn rad_deg(r: f64) -> f64 {
    r / D_R
}

fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// Haversine distance in meters.
fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lon1r = deg_rad(lon1);
    let lon2r = deg_rad(lon2);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = deg_rad(lat1);
    let lat2r = deg_rad(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS * a.sqrt().asin()
}

/// The geohash precision that makes a cell about as large as the search.
fn steps_for_radius(mut range: f64, lat: f64) -> u8 {
    if range == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// A search shape, in meters (after unit conversion of the user's values
/// the `conv` factor is kept to convert distances back).
#[derive(Clone, Copy, Debug)]
enum Kind {
    Radius(f64),
    Box(f64, f64),
}

#[derive(Clone, Copy, Debug)]
struct Shape {
    lon: f64,
    lat: f64,
    kind: Kind,
    /// Meters per user unit.
    conv: f64,
}

impl Shape {
    /// (min_lon, min_lat, max_lon, max_lat) around the centre.
    fn bounds(&self) -> (f64, f64, f64, f64) {
        let (h, w) = match self.kind {
            Kind::Radius(r) => (r * self.conv, r * self.conv),
            Kind::Box(w, h) => (h / 2.0 * self.conv, w / 2.0 * self.conv),
        };
        let lat_delta = rad_deg(h / EARTH_RADIUS);
        let lon_top = rad_deg(w / EARTH_RADIUS / deg_rad(self.lat + lat_delta).cos());
        let lon_bottom = rad_deg(w / EARTH_RADIUS / deg_rad(self.lat - lat_delta).cos());
        // The hemispheres widen in opposite directions.
        let d = if self.lat < 0.0 { lon_bottom } else { lon_top };
        (
            self.lon - d,
            self.lat - lat_delta,
            self.lon + d,
            self.lat + lat_delta,
        )
    }

    /// The distance of a point from the centre if it lies inside the shape.
    fn contains(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.kind {
            Kind::Radius(r) => {
                let d = distance(self.lon, self.lat, lon, lat);
                (d <= r * self.conv).then_some(d)
            }
            Kind::Box(w, h) => {
                if lat_distance(lat, self.lat) > h * self.conv / 2.0 {
                    return None;
                }
                if distance(lon, lat, self.lon, lat) > w * self.conv / 2.0 {
                    return None;
                }
                Some(distance(self.lon, self.lat, lon, lat))
            }
        }
    }

    /// The cells to scan: the centre cell and its neighbours, in the order
    /// centre, N, S, E, W, NE, NW, SE, SW (zero where not needed).
    fn cells(&self) -> [Hash; 9] {
        let (min_lon, min_lat, max_lon, max_lat) = self.bounds();
        let radius = match self.kind {
            Kind::Radius(r) => r,
            Kind::Box(w, h) => ((w / 2.0) * (w / 2.0) + (h / 2.0) * (h / 2.0)).sqrt(),
        } * self.conv;
        let mut steps = steps_for_radius(radius, self.lat);
        let mk = |steps: u8| {
            let h = encode(self.lon, self.lat, steps, LAT_MIN, LAT_MAX).unwrap_or_default();
            let n = [
                h,
                moved(h, 0, 1),
                moved(h, 0, -1),
                moved(h, 1, 0),
                moved(h, -1, 0),
                moved(h, 1, 1),
                moved(h, -1, 1),
                moved(h, 1, -1),
                moved(h, -1, -1),
            ];
            (n, decode(h))
        };
        let (mut n, mut area) = mk(steps);
        let decrease = decode(n[1]).lat_max < max_lat
            || decode(n[2]).lat_min > min_lat
            || decode(n[3]).lon_max < max_lon
            || decode(n[4]).lon_min > min_lon;
        if steps > 1 && decrease {
            steps -= 1;
            (n, area) = mk(steps);
        }
        if steps >= 2 {
            let z = Hash::default();
            if area.lat_min < min_lat {
                n[2] = z;
                n[8] = z;
                n[7] = z;
            }
            if area.lat_max > max_lat {
                n[1] = z;
                n[5] = z;
                n[6] = z;
            }
            if area.lon_min < min_lon {
                n[4] = z;
                n[8] = z;
                n[6] = z;
            }
            if area.lon_max > max_lon {
                n[3] = z;
                n[7] = z;
                n[5] = z;
            }
        }
        n
    }
}

/// A search hit.
struct Point {
    member: Vec<u8>,
    score: f64,
    lon: f64,
    lat: f64,
    dist: f64,
}

/// All points of `z` inside `shape`, in scan order; stops at `limit` hits
/// (0: no limit).
fn search_points(z: &ZSet, shape: &Shape, limit: usize) -> Vec<Point> {
    let cells = shape.cells();
    let mut out = Vec::new();
    let mut last: usize = 0;
    for i in 0..cells.len() {
        let c = cells[i];
        if c.is_zero() {
            continue;
        }
        // Huge radii can make adjacent neighbours identical: skip repeats.
        if last != 0 && c == cells[last] {
            continue;
        }
        if limit > 0 && out.len() >= limit {
            break;
        }
        let shift = 52 - 2 * c.step as u32;
        let min = (c.bits << shift) as f64;
        let max = ((c.bits + 1) << shift) as f64;
        let r = ScoreRange {
            min,
            max,
            minex: false,
            maxex: true,
        };
        let start = z.rank_where(|_, s| r.gte_min(s));
        z.walk(start, false, |m, s| {
            if !r.lte_max(s) {
                return false;
            }
            let (lon, lat) = score_to_lonlat(s);
            if let Some(d) = shape.contains(lon, lat) {
                out.push(Point {
                    member: m.to_vec(),
                    score: s,
                    lon,
                    lat,
                    dist: d,
                });
                if limit > 0 && out.len() >= limit {
                    return false;
                }
            }
            true
        });
        last = i;
    }
    out
}

// ---------------------------------------------------------------------------
// Argument parsing and replies
// ---------------------------------------------------------------------------

/// Parses a longitude, latitude pair with Redis's range check.
fn parse_lonlat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), CmdErr> {
    let x = parse_score(lon).ok_or(CmdErr::from(NOT_FLOAT))?;
    let y = parse_score(lat).ok_or(CmdErr::from(NOT_FLOAT))?;
    if !(LON_MIN..=LON_MAX).contains(&x) || !(LAT_MIN..=LAT_MAX).contains(&y) {
        return Err(format!("ERR invalid longitude,latitude pair {:.6},{:.6}", x, y).into());
    }
    Ok((x, y))
}

/// Meters per unit.
fn parse_unit(u: &[u8]) -> Result<f64, CmdErr> {
    if eq_ic(u, "m") {
        Ok(1.0)
    } else if eq_ic(u, "km") {
        Ok(1000.0)
    } else if eq_ic(u, "ft") {
        Ok(0.3048)
    } else if eq_ic(u, "mi") {
        Ok(1609.34)
    } else {
        Err("ERR unsupported unit provided. please use M, KM, FT, MI".into())
    }
}

/// A radius and its unit: (radius, meters per unit).
fn parse_distance(r: &[u8], unit: &[u8]) -> Result<(f64, f64), CmdErr> {
    let d = parse_score(r).ok_or(CmdErr::from("ERR need numeric radius"))?;
    if d < 0.0 {
        return Err("ERR radius cannot be negative".into());
    }
    Ok((d, parse_unit(unit)?))
}

/// Redis's human long double format (`%.17Lf` with trailing zeros removed).
fn human(v: f64) -> String {
    let s = format!("{:.17}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

fn reply_human(out: &mut Reply, v: f64) {
    let s = human(v);
    if out.proto >= 3 {
        out.raw(b",");
        out.raw(s.as_bytes());
        out.raw(b"\r\n");
    } else {
        out.bulk(s.as_bytes());
    }
}

/// A distance as Redis prints it (`%.4f`, always a bulk string).
fn reply_distance(out: &mut Reply, d: f64) {
    out.bulk(format!("{:.4}", d).as_bytes());
}

fn member_lonlat(z: &ZSet, m: &[u8]) -> Option<(f64, f64)> {
    z.score(m).map(score_to_lonlat)
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

fn geoadd(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let mut f = AddFlags::default();
    let mut i = 2;
    while i < args.len() {
        if eq_ic(&args[i], "nx") {
            f.nx = true;
        } else if eq_ic(&args[i], "xx") {
            f.xx = true;
        } else if eq_ic(&args[i], "ch") {
            f.ch = true;
        } else {
            break;
        }
        i += 1;
    }
    if (args.len() - i) % 3 != 0 || (f.xx && f.nx) {
        return Err(SYNTAX.into());
    }
    let mut pairs = Vec::with_capacity((args.len() - i) / 3);
    while i < args.len() {
        let (lon, lat) = parse_lonlat(&args[i], &args[i + 1])?;
        let h = encode(lon, lat, STEP_MAX, LAT_MIN, LAT_MAX).ok_or(CmdErr::from(SYNTAX))?;
        pairs.push((h.bits as f64, &args[i + 2][..]));
        i += 3;
    }
    zadd_apply(ctx, &args[1], f, &pairs, "zadd")
}

fn geodist(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let conv = if args.len() == 5 {
        parse_unit(&args[4])?
    } else if args.len() > 5 {
        return Err(SYNTAX.into());
    } else {
        1.0
    };
    let Some(z) = zread(ctx.lk, ctx.access(), &args[1])? else {
        ctx.out.null();
        return Ok(());
    };
    match (member_lonlat(z, &args[2]), member_lonlat(z, &args[3])) {
        (Some(a), Some(b)) => reply_distance(ctx.out, distance(a.0, a.1, b.0, b.1) / conv),
        _ => ctx.out.null(),
    }
    Ok(())
}

fn geohash(ctx: &mut Ctx) -> CmdResult {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let args = ctx.args;
    let z = zread(ctx.lk, ctx.access(), &args[1])?;
    ctx.out.array(args.len() - 2);
    for m in &args[2..] {
        let Some((lon, lat)) = z.as_ref().and_then(|z| member_lonlat(z, m)) else {
            ctx.out.null();
            continue;
        };
        // Standard geohashes use the full ±90 latitude range.
        let bits = encode(lon, lat, STEP_MAX, -90.0, 90.0)
            .map(|h| h.bits)
            .unwrap_or(0);
        let mut s = [0u8; 11];
        for (i, c) in s.iter_mut().enumerate() {
            let idx = if i == 10 {
                0
            } else {
                ((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize
            };
            *c = ALPHABET[idx];
        }
        ctx.out.bulk(&s);
    }
    Ok(())
}

fn geopos(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let z = zread(ctx.lk, ctx.access(), &args[1])?;
    ctx.out.array(args.len() - 2);
    for m in &args[2..] {
        match z.as_ref().and_then(|z| member_lonlat(z, m)) {
            Some((lon, lat)) => {
                ctx.out.array(2);
                reply_human(ctx.out, lon);
                reply_human(ctx.out, lat);
            }
            None => ctx.out.null_array(),
        }
    }
    Ok(())
}

/// Which command form is running.
#[derive(Clone, Copy, PartialEq)]
enum Form {
    /// GEORADIUS[_RO]: centre given as coordinates.
    Coords,
    /// GEORADIUSBYMEMBER[_RO].
    Member,
    /// GEOSEARCH / GEOSEARCHSTORE.
    Search,
}

fn georadius(ctx: &mut Ctx) -> CmdResult {
    radius_generic(ctx, 1, Form::Coords, false, false)
}
fn georadius_ro(ctx: &mut Ctx) -> CmdResult {
    radius_generic(ctx, 1, Form::Coords, true, false)
}
fn georadiusbymember(ctx: &mut Ctx) -> CmdResult {
    radius_generic(ctx, 1, Form::Member, false, false)
}
fn georadiusbymember_ro(ctx: &mut Ctx) -> CmdResult {
    radius_generic(ctx, 1, Form::Member, true, false)
}
fn geosearch(ctx: &mut Ctx) -> CmdResult {
    radius_generic(ctx, 1, Form::Search, true, false)
}
fn geosearchstore(ctx: &mut Ctx) -> CmdResult {
    radius_generic(ctx, 2, Form::Search, true, true)
}

/// GEORADIUS[BYMEMBER] keys: the source plus any STORE/STOREDIST target.
fn radius_keys(args: &[Bytes]) -> Vec<usize> {
    let mut v = vec![1];
    let mut i = 2;
    while i + 1 < args.len() {
        if eq_ic(&args[i], "store") || eq_ic(&args[i], "storedist") {
            v.push(i + 1);
        }
        i += 1;
    }
    v
}

/// What a radius search decided, computed while the source is borrowed.
struct Outcome {
    pts: Vec<Point>,
    /// False when the source key is missing.
    found: bool,
    storekey: Option<usize>,
    storedist: bool,
    withdist: bool,
    withhash: bool,
    withcoord: bool,
    conv: f64,
}

fn radius_generic(
    ctx: &mut Ctx,
    src_at: usize,
    form: Form,
    nostore: bool,
    search_store: bool,
) -> CmdResult {
    let args = ctx.args;
    let o = {
        let z = zread(ctx.lk, ctx.access(), &args[src_at])?;
        radius_compute(z.map(|z| &*z), args, form, nostore, search_store)?
    };
    let search = form == Form::Search;
    let Outcome {
        pts,
        found,
        storekey,
        storedist,
        withdist,
        withhash,
        withcoord,
        conv,
    } = o;
    if !found {
        match storekey {
            Some(k) => {
                store_result(ctx, &args[k], ZSet::default(), "");
                ctx.out.int(0);
            }
            None => ctx.out.array(0),
        }
        return Ok(());
    }
    if pts.is_empty() && storekey.is_none() {
        ctx.out.array(0);
        return Ok(());
    }
    let returned = pts.len();
    match storekey {
        None => {
            let opts = withdist as usize + withhash as usize + withcoord as usize;
            ctx.out.array(returned);
            for p in &pts {
                if opts > 0 {
                    ctx.out.array(opts + 1);
                }
                ctx.out.bulk(&p.member);
                if withdist {
                    reply_distance(ctx.out, p.dist / conv);
                }
                if withhash {
                    ctx.out.int(p.score as i64);
                }
                if withcoord {
                    ctx.out.array(2);
                    reply_human(ctx.out, p.lon);
                    reply_human(ctx.out, p.lat);
                }
            }
        }
        Some(k) => {
            let lim = limits(ctx);
            let maxlen = pts.iter().map(|p| p.member.len()).max().unwrap_or(0);
            let mut out = ZSet::with_hint(returned, maxlen, lim);
            for p in &pts {
                out.insert(
                    &p.member,
                    if storedist { p.dist / conv } else { p.score },
                    lim,
                );
            }
            let ev = if search {
                "geosearchstore"
            } else {
                "georadiusstore"
            };
            let n = store_result(ctx, &args[k], out, ev);
            ctx.dirty += n.saturating_sub(1) as u64;
            ctx.out.int(n as i64);
        }
    }
    Ok(())
}

/// Parses the options of a radius search and runs it over `zref`.
fn radius_compute(
    zref: Option<&ZSet>,
    args: &[Bytes],
    form: Form,
    nostore: bool,
    search_store: bool,
) -> Result<Outcome, CmdErr> {
    let mut lonlat: Option<(f64, f64)> = None;
    let mut kind: Option<Kind> = None;
    let mut conv = 1.0;
    let base = match form {
        Form::Coords => {
            lonlat = Some(parse_lonlat(&args[2], &args[3])?);
            let (r, c) = parse_distance(&args[4], &args[5])?;
            kind = Some(Kind::Radius(r));
            conv = c;
            6
        }
        Form::Member => {
            if let Some(z) = zref {
                lonlat = Some(
                    member_lonlat(z, &args[2])
                        .ok_or(CmdErr::from("ERR could not decode requested zset member"))?,
                );
                let (r, c) = parse_distance(&args[3], &args[4])?;
                kind = Some(Kind::Radius(r));
                conv = c;
            }
            5
        }
        Form::Search => {
            if search_store {
                3
            } else {
                2
            }
        }
    };
    let (mut withdist, mut withhash, mut withcoord) = (false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut sort: Option<bool> = None; // Some(true) = ASC
    let mut any = false;
    let mut count: i64 = 0;
    let mut storekey: Option<usize> = if search_store { Some(1) } else { None };
    let mut storedist = false;
    let remaining = args.len().saturating_sub(base);
    let mut i = 0;
    let search = form == Form::Search;
    while i < remaining {
        let a = &args[base + i];
        if eq_ic(a, "withdist") {
            withdist = true;
        } else if eq_ic(a, "withhash") {
            withhash = true;
        } else if eq_ic(a, "withcoord") {
            withcoord = true;
        } else if eq_ic(a, "any") {
            any = true;
        } else if eq_ic(a, "asc") {
            sort = Some(true);
        } else if eq_ic(a, "desc") {
            sort = Some(false);
        } else if eq_ic(a, "count") && i + 1 < remaining {
            count = parse_i64(&args[base + i + 1]).ok_or(CmdErr::from(NOT_INT))?;
            if count <= 0 {
                return Err("ERR COUNT must be > 0".into());
            }
            i += 1;
        } else if (eq_ic(a, "store") || eq_ic(a, "storedist"))
            && i + 1 < remaining
            && !nostore
            && !search
        {
            storekey = Some(base + i + 1);
            storedist = eq_ic(a, "storedist");
            i += 1;
        } else if eq_ic(a, "storedist") && search && search_store {
            storedist = true;
        } else if eq_ic(a, "frommember") && i + 1 < remaining && search && !fromloc {
            if let Some(z) = zref {
                lonlat = Some(
                    member_lonlat(z, &args[base + i + 1])
                        .ok_or(CmdErr::from("ERR could not decode requested zset member"))?,
                );
            }
            frommember = true;
            i += 1;
        } else if eq_ic(a, "fromlonlat") && i + 2 < remaining && search && !frommember {
            lonlat = Some(parse_lonlat(&args[base + i + 1], &args[base + i + 2])?);
            fromloc = true;
            i += 2;
        } else if eq_ic(a, "byradius") && i + 2 < remaining && search && !bybox {
            let (r, c) = parse_distance(&args[base + i + 1], &args[base + i + 2])?;
            kind = Some(Kind::Radius(r));
            conv = c;
            byradius = true;
            i += 2;
        } else if eq_ic(a, "bybox") && i + 3 < remaining && search && !byradius {
            let w =
                parse_score(&args[base + i + 1]).ok_or(CmdErr::from("ERR need numeric width"))?;
            let h =
                parse_score(&args[base + i + 2]).ok_or(CmdErr::from("ERR need numeric height"))?;
            if h < 0.0 || w < 0.0 {
                return Err("ERR height or width cannot be negative".into());
            }
            conv = parse_unit(&args[base + i + 3])?;
            kind = Some(Kind::Box(w, h));
            bybox = true;
            i += 3;
        } else {
            return Err(SYNTAX.into());
        }
        i += 1;
    }
    if storekey.is_some() && (withdist || withhash || withcoord) {
        return Err(format!(
            "ERR {} is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            if search_store {
                "GEOSEARCHSTORE"
            } else {
                "STORE option in GEORADIUS"
            }
        )
        .into());
    }
    let name = String::from_utf8_lossy(&args[0]).into_owned();
    if search && !(frommember || fromloc) {
        return Err(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {}",
            name
        )
        .into());
    }
    if search && !(byradius || bybox) {
        return Err(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {}",
            name
        )
        .into());
    }
    if any && count == 0 {
        return Err("ERR the ANY argument requires COUNT argument".into());
    }
    let mut o = Outcome {
        pts: Vec::new(),
        found: zref.is_some(),
        storekey,
        storedist,
        withdist,
        withhash,
        withcoord,
        conv,
    };
    let Some(z) = zref else { return Ok(o) };
    if count != 0 && sort.is_none() && !any {
        sort = Some(true);
    }
    let (lon, lat) = lonlat.expect("centre parsed");
    let shape = Shape {
        lon,
        lat,
        kind: kind.expect("shape parsed"),
        conv,
    };
    let mut pts = search_points(z, &shape, if any { count as usize } else { 0 });
    match sort {
        Some(true) => pts.sort_by(|a, b| {
            a.dist
                .partial_cmp(&b.dist)
                .unwrap_or(std::cmp::Ordering::Equal)
        }),
        Some(false) => pts.sort_by(|a, b| {
            b.dist
                .partial_cmp(&a.dist)
                .unwrap_or(std::cmp::Ordering::Equal)
        }),
        None => {}
    }
    if count > 0 && (pts.len() as i64) > count {
        pts.truncate(count as usize);
    }
    o.pts = pts;
    Ok(o)
}

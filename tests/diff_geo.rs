//! Differential tests: geo commands, Magpie vs redis-server, byte for byte,
//! RESP2 and RESP3 (script format: see `common::parse_script`), plus a seeded
//! random sequence of searches over a few hundred points.

mod common;

use common::{run_steps, Compare, DiffOpts, Step};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

diff_test!(both: geo_basics, geo_basics_resp3, r#"
GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
GEOADD Sicily NX 13.361389 38.115556 Palermo
GEOADD Sicily XX CH 13.5 38.2 Palermo 1 1 Nowhere
GEOADD Sicily CH 13.361389 38.115556 Palermo
GEODIST Sicily Palermo Catania
GEODIST Sicily Palermo Catania km
GEODIST Sicily Palermo Catania mi
GEODIST Sicily Palermo Catania FT
GEODIST Sicily Palermo missing
GEODIST nokey a b
GEOPOS Sicily Palermo Catania missing
GEOPOS nokey a
GEOHASH Sicily Palermo Catania missing
GEOHASH nokey a
ZRANGE Sicily 0 -1 WITHSCORES
OBJECT ENCODING Sicily
GEOADD edges -180 -85.05112878 sw 180 85.05112878 ne 0 0 origin -0.0001 0.0001 near
GEOPOS edges sw ne origin near
GEOHASH edges sw ne origin near
GEODIST edges sw ne
GEODIST edges origin near
!err GEOADD Sicily 181 10 bad
!err GEOADD Sicily 10 86 bad
!err GEOADD Sicily abc 10 bad
!err GEOADD Sicily 10 10
!err GEOADD Sicily NX XX 10 10 m
!err GEODIST Sicily Palermo Catania parsecs
!err GEODIST Sicily Palermo Catania km extra
SET s x
!err GEOADD s 10 10 m
!err GEOPOS s a
!err GEODIST s a b
!err GEOHASH s a
"#);

diff_test!(both: geo_search, geo_search_resp3, r#"
GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania 13.583333 37.316667 Agrigento 12.758489 38.788135 edge1 17.241510 38.788135 edge2
GEORADIUS Sicily 15 37 200 km
GEORADIUS Sicily 15 37 200 km ASC
GEORADIUS Sicily 15 37 200 km DESC WITHDIST
GEORADIUS Sicily 15 37 200 km WITHDIST WITHCOORD WITHHASH ASC
GEORADIUS Sicily 15 37 200 km COUNT 2
GEORADIUS Sicily 15 37 200 km COUNT 1 DESC
GEORADIUS Sicily 15 37 200 km COUNT 1 ANY
GEORADIUS Sicily 15 37 1 m
GEORADIUS Sicily 15 37 100000 mi ASC
GEORADIUS_RO Sicily 15 37 200 km ASC WITHDIST
GEORADIUSBYMEMBER Sicily Palermo 200 km ASC WITHDIST
GEORADIUSBYMEMBER_RO Sicily Catania 100 km DESC
GEORADIUSBYMEMBER nokey x 10 badunit
GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC
GEOSEARCH Sicily FROMMEMBER Palermo BYBOX 400 400 km ASC WITHCOORD WITHDIST
GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 100 300 km DESC
GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 0 0 km
GEOSEARCH Sicily FROMMEMBER Catania BYRADIUS 0 m WITHDIST
GEOSEARCH nokey FROMMEMBER Catania BYRADIUS 10 m
GEORADIUS Sicily 15 37 200 km STORE dst
ZRANGE dst 0 -1 WITHSCORES
GEORADIUS Sicily 15 37 200 km STOREDIST dst2 ASC COUNT 2
ZRANGE dst2 0 -1 WITHSCORES
GEORADIUSBYMEMBER Sicily Palermo 10 km STORE dst
ZRANGE dst 0 -1 WITHSCORES
GEORADIUS Sicily 0 0 1 km STORE dst
EXISTS dst
GEOSEARCHSTORE dst3 Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC COUNT 2
ZRANGE dst3 0 -1 WITHSCORES
GEOSEARCHSTORE dst3 Sicily FROMLONLAT 15 37 BYBOX 400 400 km STOREDIST
ZRANGE dst3 0 -1 WITHSCORES
GEOSEARCHSTORE dst3 nokey FROMLONLAT 15 37 BYBOX 400 400 km
EXISTS dst3
!err GEORADIUS Sicily 15 37 -1 km
!err GEORADIUS Sicily 15 37 abc km
!err GEORADIUS Sicily 15 37 10 parsecs
!err GEORADIUS Sicily 200 37 10 km
!err GEORADIUS Sicily 15 37 10 km COUNT 0
!err GEORADIUS Sicily 15 37 10 km ANY
!err GEORADIUS Sicily 15 37 10 km STORE d WITHDIST
!err GEORADIUS_RO Sicily 15 37 10 km STORE d
!err GEORADIUS Sicily 15 37 10 km FOO
!err GEORADIUSBYMEMBER Sicily nope 10 km
!err GEOSEARCH Sicily FROMMEMBER Palermo BYBOX 1 -1 km
!err GEOSEARCH Sicily FROMMEMBER Palermo BYBOX a 1 km
!err GEOSEARCH Sicily BYRADIUS 10 km ASC ASC
!err GEOSEARCH Sicily FROMMEMBER Palermo ASC ASC
!err GEOSEARCH Sicily FROMMEMBER Palermo FROMLONLAT 1 1 BYRADIUS 1 km
!err GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 1 km BYBOX 1 1 km
!err GEOSEARCH Sicily FROMMEMBER nope BYRADIUS 10 km
!err GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 10 km STORE x
!err GEOSEARCHSTORE d Sicily FROMMEMBER Palermo BYRADIUS 10 km WITHDIST
"#);

// ---------------------------------------------------------------------------
// Seeded random searches over a few hundred points spread around the world,
// including high latitudes and the antimeridian. Unsorted replies follow the
// geohash cell scan order, so they are compared exactly too.
// ---------------------------------------------------------------------------

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn coord(rng: &mut StdRng) -> (f64, f64) {
    match rng.gen_range(0..4) {
        0 => (rng.gen_range(-180.0..180.0), rng.gen_range(-85.0..85.0)),
        1 => (rng.gen_range(179.0..180.0), rng.gen_range(-10.0..10.0)),
        2 => (rng.gen_range(-20.0..20.0), rng.gen_range(70.0..85.0)),
        _ => (rng.gen_range(10.0..12.0), rng.gen_range(44.0..46.0)),
    }
}

fn random_steps(seed: u64, n: usize) -> Vec<Step> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut cmds: Vec<(Vec<Vec<u8>>, Compare)> = Vec::new();
    for chunk in 0..10 {
        let mut c = vec![b("GEOADD"), b("g")];
        for i in 0..40 {
            let (x, y) = coord(&mut rng);
            c.push(format!("{:.6}", x).into_bytes());
            c.push(format!("{:.6}", y).into_bytes());
            c.push(format!("p{}", chunk * 40 + i).into_bytes());
        }
        cmds.push((c, Compare::Exact));
    }
    let units = ["m", "km", "mi", "ft"];
    for _ in 0..n {
        let (x, y) = coord(&mut rng);
        let unit = units[rng.gen_range(0..4)];
        let size = match unit {
            "m" => rng.gen_range(1000.0..3_000_000.0),
            "ft" => rng.gen_range(1000.0..9_000_000.0),
            _ => rng.gen_range(1.0..3000.0),
        };
        let mut c = match rng.gen_range(0..6) {
            0 => vec![
                b("GEORADIUS"),
                b("g"),
                format!("{:.5}", x).into_bytes(),
                format!("{:.5}", y).into_bytes(),
                format!("{:.3}", size).into_bytes(),
                b(unit),
            ],
            1 => vec![
                b("GEORADIUSBYMEMBER"),
                b("g"),
                format!("p{}", rng.gen_range(0..400)).into_bytes(),
                format!("{:.3}", size).into_bytes(),
                b(unit),
            ],
            2 => vec![
                b("GEOSEARCH"),
                b("g"),
                b("FROMLONLAT"),
                format!("{:.5}", x).into_bytes(),
                format!("{:.5}", y).into_bytes(),
                b("BYBOX"),
                format!("{:.3}", size).into_bytes(),
                format!("{:.3}", size * rng.gen_range(0.2..3.0)).into_bytes(),
                b(unit),
            ],
            3 => vec![
                b("GEOSEARCH"),
                b("g"),
                b("FROMMEMBER"),
                format!("p{}", rng.gen_range(0..400)).into_bytes(),
                b("BYRADIUS"),
                format!("{:.3}", size).into_bytes(),
                b(unit),
            ],
            4 => vec![
                b("GEODIST"),
                b("g"),
                format!("p{}", rng.gen_range(0..400)).into_bytes(),
                format!("p{}", rng.gen_range(0..400)).into_bytes(),
                b(unit),
            ],
            _ => vec![
                b("GEOPOS"),
                b("g"),
                format!("p{}", rng.gen_range(0..400)).into_bytes(),
                format!("p{}", rng.gen_range(0..400)).into_bytes(),
            ],
        };
        if c[0] != b("GEODIST") && c[0] != b("GEOPOS") {
            match rng.gen_range(0..4) {
                0 => c.push(b("ASC")),
                1 => c.push(b("DESC")),
                _ => {}
            }
            if rng.gen_bool(0.3) {
                c.extend([b("COUNT"), rng.gen_range(1..10).to_string().into_bytes()]);
            }
            if rng.gen_bool(0.5) {
                c.push(b("WITHDIST"));
            }
            if rng.gen_bool(0.3) {
                c.push(b("WITHCOORD"));
            }
            if rng.gen_bool(0.3) {
                c.push(b("WITHHASH"));
            }
        }
        cmds.push((c, Compare::Exact));
    }
    cmds.into_iter()
        .enumerate()
        .map(|(i, (args, compare))| {
            let mut s = Step::cmd(args);
            s.line = i + 1;
            s.compare = compare;
            s.text = format!("[seed {}] {}", seed, s.text);
            s
        })
        .collect()
}

#[test]
fn random_geo_seed_1() {
    run_steps(
        &random_steps(1, 600),
        &DiffOpts {
            lenient: true,
            ..Default::default()
        },
    );
}

#[test]
fn random_geo_seed_2_resp3() {
    run_steps(
        &random_steps(2, 600),
        &DiffOpts {
            resp3: true,
            lenient: true,
            ..Default::default()
        },
    );
}

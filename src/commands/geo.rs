//! Geo commands (sorted sets of geohash scores).

use super::Cmd;

pub static COMMANDS: &[Cmd] = &[];

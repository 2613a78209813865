//! HyperLogLog commands, with Redis's sparse and dense encodings.

use super::Cmd;

pub static COMMANDS: &[Cmd] = &[];

//! Sorted set commands, including the blocking ones.

use super::Cmd;

pub static COMMANDS: &[Cmd] = &[];

//! Hash commands.

use super::Cmd;

pub static COMMANDS: &[Cmd] = &[];

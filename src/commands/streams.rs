//! Stream commands and consumer groups.

use super::Cmd;

pub static COMMANDS: &[Cmd] = &[];

//! SORT and SORT_RO.

use super::Cmd;

pub static COMMANDS: &[Cmd] = &[];

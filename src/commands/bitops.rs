//! Bitmap and bitfield commands on strings.

use super::Cmd;

pub static COMMANDS: &[Cmd] = &[];

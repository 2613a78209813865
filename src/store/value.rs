//! The value types a key can hold. Issue by issue each Redis type gets its
//! variant here with its compact and large encodings.

use super::sbytes::SBytes;

pub enum Value {
    /// A string in its "int" or "embstr" encoding (decided by its content).
    Str(SBytes),
    /// A string that was modified in place (APPEND, SETRANGE): Redis reports "raw".
    Raw(SBytes),
}

impl Value {
    pub fn str(b: &[u8]) -> Value {
        Value::Str(SBytes::new(b))
    }

    /// The Redis type name, as TYPE prints it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) | Value::Raw(_) => "string",
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
            Value::Raw(s) => {
                if s.len() <= 20 && crate::util::parse_i64(s).is_some() {
                    "int"
                } else {
                    "raw"
                }
            }
        }
    }

    /// The string bytes, if this is a string.
    pub fn as_str(&self) -> Option<&[u8]> {
        match self {
            Value::Str(s) | Value::Raw(s) => Some(s),
        }
    }

    /// Approximate bytes used by the value outside the entry (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) | Value::Raw(s) => s.heap_size(),
        }
    }
}

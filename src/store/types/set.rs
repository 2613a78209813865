//! A Redis set: intset for small all-integer sets (set-max-intset-entries), hashtable otherwise.

/// Scaffolding to be replaced by the real representation (issue 3).
#[derive(Clone, Default)]
pub struct Set {
    len: usize,
}

impl Set {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        "intset"
    }

    /// Approximate heap bytes (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        0
    }
}

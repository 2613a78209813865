//! A Redis list: listpack when small, quicklist when large (list-max-listpack-size, list-compress-depth).

/// Scaffolding to be replaced by the real representation (issue 3).
#[derive(Clone, Default)]
pub struct List {
    len: usize,
}

impl List {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        "listpack"
    }

    /// Approximate heap bytes (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        0
    }
}

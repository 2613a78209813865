//! A Redis stream: entries ordered by ID, consumer groups with their pending entries lists.

/// Scaffolding to be replaced by the real representation (issue 3).
#[derive(Clone, Default)]
pub struct Stream {
    len: usize,
}

impl Stream {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        "stream"
    }

    /// Approximate heap bytes (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        0
    }
}

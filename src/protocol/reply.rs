//! Reply encoder. Commands write straight into the connection's output
//! buffer; the RESP version decides how maps, sets, doubles, nulls and
//! booleans are framed, so handlers never branch on the protocol.

/// An output buffer plus the protocol version it speaks.
pub struct Reply {
    pub buf: Vec<u8>,
    /// 2 or 3.
    pub proto: u8,
    /// The client's output-buffer hard limit (0: none). Past it the client
    /// is closed without its replies, so commands that can build huge
    /// replies (KEYS, *RANDMEMBER/HRANDFIELD with a negative count) stop
    /// early, as Redis does.
    pub cap: usize,
}

impl Reply {
    pub fn new(proto: u8) -> Reply {
        Reply {
            buf: Vec::with_capacity(16 * 1024),
            proto,
            cap: 0,
        }
    }

    /// A buffer for a reply or two (a script's `redis.call`).
    pub fn with_capacity(proto: u8, cap: usize) -> Reply {
        Reply {
            buf: Vec::with_capacity(cap),
            proto,
            cap: 0,
        }
    }

    /// True once the pending replies passed the client's hard limit.
    #[inline]
    pub fn over_cap(&self) -> bool {
        self.cap != 0 && self.buf.len() > self.cap
    }

    /// The reply bytes still allowed before the hard limit (`usize::MAX`
    /// without one), for a command that gathers its reply before writing
    /// it: once it has gathered more, it can stop.
    #[inline]
    pub fn room(&self) -> usize {
        if self.cap == 0 {
            usize::MAX
        } else {
            self.cap.saturating_sub(self.buf.len())
        }
    }

    /// A lower bound of the bytes `bulk(b)` writes (header and CRLFs).
    #[inline]
    pub fn bulk_size(b: &[u8]) -> usize {
        b.len() + 6
    }

    #[inline]
    fn header(&mut self, tag: u8, n: i64) {
        // Assembled on the stack and appended once (one capacity check).
        let mut b = itoa::Buffer::new();
        let digits = b.format(n).as_bytes();
        let mut line = [0u8; 24];
        line[0] = tag;
        line[1..1 + digits.len()].copy_from_slice(digits);
        line[1 + digits.len()..3 + digits.len()].copy_from_slice(b"\r\n");
        self.buf.extend_from_slice(&line[..3 + digits.len()]);
    }

    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A status reply (`+...`). The text must not contain CR or LF.
    pub fn simple(&mut self, s: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error reply. `msg` is the full text after `-` (e.g. `ERR syntax error`);
    /// newlines are replaced by spaces as Redis does.
    pub fn error(&mut self, msg: &str) {
        self.error_bytes(msg.as_bytes());
    }

    /// An error reply from raw bytes (client data echoed verbatim).
    pub fn error_bytes(&mut self, msg: &[u8]) {
        self.buf.push(b'-');
        for &c in msg {
            self.buf
                .push(if c == b'\r' || c == b'\n' { b' ' } else { c });
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn int(&mut self, v: i64) {
        self.header(b':', v);
    }

    pub fn bulk(&mut self, b: &[u8]) {
        self.header(b'$', b.len() as i64);
        self.buf.extend_from_slice(b);
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn bulk_int(&mut self, v: i64) {
        let mut b = itoa::Buffer::new();
        let s = b.format(v);
        self.bulk(s.as_bytes());
    }

    /// Null bulk: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        if self.proto >= 3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"$-1\r\n");
        }
    }

    /// Null array: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        if self.proto >= 3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }

    pub fn array(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// A map of `n` pairs: `%n` in RESP3, a flat array of 2n in RESP2.
    pub fn map(&mut self, n: usize) {
        if self.proto >= 3 {
            self.header(b'%', n as i64);
        } else {
            self.header(b'*', 2 * n as i64);
        }
    }

    /// A set: `~n` in RESP3, an array in RESP2.
    pub fn set(&mut self, n: usize) {
        self.header(if self.proto >= 3 { b'~' } else { b'*' }, n as i64);
    }

    /// A push frame (`>` in RESP3, an array in RESP2).
    pub fn push(&mut self, n: usize) {
        self.header(if self.proto >= 3 { b'>' } else { b'*' }, n as i64);
    }

    /// A double: `,` in RESP3, a bulk string in RESP2 (`%.17g` formatting).
    pub fn double(&mut self, v: f64) {
        let s = crate::util::fmt_g17(v);
        if self.proto >= 3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, v: bool) {
        if self.proto >= 3 {
            self.buf
                .extend_from_slice(if v { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(v as i64);
        }
    }

    /// Verbatim text (`=len\r\ntxt:...` in RESP3), a bulk string in RESP2.
    pub fn verbatim(&mut self, s: &[u8]) {
        if self.proto >= 3 {
            self.header(b'=', s.len() as i64 + 4);
            self.buf.extend_from_slice(b"txt:");
            self.buf.extend_from_slice(s);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s);
        }
    }

    /// An array of bulk strings.
    pub fn bulks<I, T>(&mut self, items: I)
    where
        I: ExactSizeIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.array(items.len());
        for it in items {
            self.bulk(it.as_ref());
        }
    }

    pub fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

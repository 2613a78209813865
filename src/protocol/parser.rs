//! Incremental request parser.
//!
//! Requests are cut out of the connection's read buffer without copying:
//! each argument is a `Bytes` slice of the frame it arrived in. A large
//! announced length is never allocated up front; the buffer only grows as
//! bytes actually arrive.

use bytes::{Buf, Bytes, BytesMut};

/// Longest inline request or length line Redis accepts (PROTO_INLINE_MAX_SIZE).
const INLINE_MAX: usize = 64 * 1024;

/// One parsed request: the command name and its arguments.
pub type Request = Vec<Bytes>;

/// A protocol violation. Redis answers with `-ERR Protocol error: <msg>` and
/// closes the connection once the reply is written.
#[derive(Debug, PartialEq, Eq)]
pub struct ParseError(pub String, pub Option<u8>);

impl ParseError {
    fn new(s: &str) -> ParseError {
        ParseError(s.to_string(), None)
    }

    /// The reply text after "-ERR Protocol error: ". The byte in
    /// "expected '$', got 'X'" is sent raw, as Redis's %c prints it.
    pub fn reply_bytes(&self) -> Vec<u8> {
        let mut v = self.0.clone().into_bytes();
        if let Some(b) = self.1 {
            v.push(b);
            v.push(b'\'');
        }
        v
    }
}

/// Per-connection parser state for a multibulk request in progress, so a
/// half-received request is not re-scanned from the start on every read.
#[derive(Default)]
pub struct Parser {
    /// Arguments still expected by the current multibulk request.
    pending: usize,
    /// Length of the bulk being read, once its header was parsed.
    bulk_len: Option<usize>,
    args: Vec<Bytes>,
    /// Argument (offset, length) pairs found by the whole-frame fast path.
    spans: Vec<(usize, usize)>,
    /// Limits, refreshed from the config by the connection.
    pub max_bulk_len: usize,
    /// True while the client must still authenticate: Redis then caps lengths.
    pub unauthenticated: bool,
}

/// Finds the '\r' ending a header line. Like Redis's `strchr` on its
/// NUL-terminated query buffer, the search stops at a NUL byte: such a line
/// is treated as incomplete (and later as too long).
fn find_crlf(buf: &[u8]) -> Option<usize> {
    match buf.iter().position(|&c| c == b'\r' || c == 0) {
        Some(i) if buf[i] == b'\r' => Some(i),
        _ => None,
    }
}

/// A non-negative decimal header number at `b[at..]` ending in '\r' plus
/// one more byte (which, like Redis, is skipped unchecked): the value and
/// the offset after the line. None for anything else, including leading
/// zeros, signs, overlong numbers or a line not complete yet.
#[inline]
fn header_num(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut i = at;
    let mut v: usize = 0;
    while let Some(&c) = b.get(i) {
        if c.is_ascii_digit() {
            if (i > at && v == 0) || i - at >= 18 {
                return None;
            }
            v = v * 10 + (c - b'0') as usize;
            i += 1;
        } else if c == b'\r' && i > at && i + 1 < b.len() {
            return Some((v, i + 2));
        } else {
            return None;
        }
    }
    None
}

impl Parser {
    pub fn new(max_bulk_len: usize) -> Parser {
        Parser {
            max_bulk_len,
            ..Default::default()
        }
    }

    /// Parses the next complete request out of `buf`, consuming its bytes.
    /// Returns `Ok(None)` when more input is needed. Empty requests
    /// (`*0`, blank inline lines) are consumed and skipped.
    pub fn next(&mut self, buf: &mut BytesMut) -> Result<Option<Request>, ParseError> {
        loop {
            if self.pending == 0 {
                if buf.is_empty() {
                    return Ok(None);
                }
                if let Some(req) = self.whole_frame(buf) {
                    return Ok(Some(req));
                }
                if buf[0] == b'*' {
                    match self.multibulk_header(buf)? {
                        None => return Ok(None),
                        Some(0) => continue,
                        Some(n) => {
                            self.pending = n;
                            self.args = Vec::with_capacity(n.min(1024));
                        }
                    }
                } else {
                    match self.inline(buf)? {
                        None => return Ok(None),
                        Some(args) if args.is_empty() => continue,
                        Some(args) => return Ok(Some(args)),
                    }
                }
            }
            // Read bulks until the request is complete.
            while self.pending > 0 {
                let len = match self.bulk_len {
                    Some(l) => l,
                    None => match self.bulk_header(buf)? {
                        None => return Ok(None),
                        Some(l) => {
                            self.bulk_len = Some(l);
                            l
                        }
                    },
                };
                if buf.len() < len + 2 {
                    // Make room for the whole bulk once, when it is known to be big.
                    if len >= 32 * 1024 && buf.capacity() < len + 2 {
                        buf.reserve(len + 2 - buf.len());
                    }
                    return Ok(None);
                }
                self.args.push(buf.split_to(len).freeze());
                buf.advance(2);
                self.bulk_len = None;
                self.pending -= 1;
            }
            return Ok(Some(std::mem::take(&mut self.args)));
        }
    }

    /// The common case of a pipeline: a well-formed multibulk request that
    /// is entirely in `buf`. Its headers are read without consuming
    /// anything, then the frame is cut out once and every argument is a
    /// slice of it (`BytesMut::split_to` per argument costs more). Anything unusual (an incomplete frame, a malformed or
    /// out-of-limit header, an empty request) returns None with `buf`
    /// untouched, and the incremental path handles it with its exact
    /// errors.
    #[inline]
    fn whole_frame(&mut self, buf: &mut BytesMut) -> Option<Request> {
        let b = &buf[..];
        if b[0] != b'*' {
            return None;
        }
        let (n, mut pos) = header_num(b, 1)?;
        if n == 0 || n > 1024 * 1024 || (n > 10 && self.unauthenticated) {
            return None;
        }
        let limit = if self.unauthenticated {
            self.max_bulk_len.min(16384)
        } else {
            self.max_bulk_len
        };
        self.spans.clear();
        for _ in 0..n {
            if *b.get(pos)? != b'$' {
                return None;
            }
            let (len, p) = header_num(b, pos + 1)?;
            if len > limit || b.len() < p + len + 2 {
                return None;
            }
            self.spans.push((p, len));
            pos = p + len + 2;
        }
        let frame = buf.split_to(pos).freeze();
        Some(
            self.spans
                .iter()
                .map(|&(s, l)| frame.slice(s..s + l))
                .collect(),
        )
    }

    fn line<'a>(buf: &'a [u8], too_big: &'static str) -> Result<Option<&'a [u8]>, ParseError> {
        match find_crlf(buf) {
            Some(i) => Ok(Some(&buf[..i])),
            None if buf.len() > INLINE_MAX => Err(ParseError::new(too_big)),
            None => Ok(None),
        }
    }

    fn multibulk_header(&mut self, buf: &mut BytesMut) -> Result<Option<usize>, ParseError> {
        let line = match Self::line(buf, "too big mbulk count string")? {
            None => return Ok(None),
            Some(l) => l,
        };
        if line.len() + 1 >= buf.len() {
            return Ok(None); // wait for the '\n'
        }
        let n = crate::util::parse_i64(&line[1..]);
        let consumed = line.len() + 2;
        let n = match n {
            Some(n) if n <= i32::MAX as i64 => n,
            _ => return Err(ParseError::new("invalid multibulk length")),
        };
        if n > 10 && self.unauthenticated {
            return Err(ParseError::new("unauthenticated multibulk length"));
        }
        buf.advance(consumed);
        Ok(Some(n.max(0) as usize))
    }

    fn bulk_header(&mut self, buf: &mut BytesMut) -> Result<Option<usize>, ParseError> {
        if buf.is_empty() {
            return Ok(None);
        }
        let line = match Self::line(buf, "too big bulk count string")? {
            None => return Ok(None),
            Some(l) => l,
        };
        // Like Redis, wait for the byte after '\r' before judging the line.
        if line.len() + 1 >= buf.len() {
            return Ok(None);
        }
        if buf[0] != b'$' {
            return Err(ParseError("expected '$', got '".into(), Some(buf[0])));
        }
        let consumed = line.len() + 2;
        let len = match crate::util::parse_i64(&line[1..]) {
            Some(l) if l >= 0 && (l as u64) <= self.max_bulk_len as u64 => l as usize,
            _ => return Err(ParseError::new("invalid bulk length")),
        };
        if len > 16384 && self.unauthenticated {
            return Err(ParseError::new("unauthenticated bulk length"));
        }
        buf.advance(consumed);
        Ok(Some(len))
    }

    fn inline(&mut self, buf: &mut BytesMut) -> Result<Option<Request>, ParseError> {
        let nl = match buf.iter().position(|&c| c == b'\n' || c == 0) {
            Some(i) if buf[i] == b'\n' => i,
            _ if buf.len() > INLINE_MAX => return Err(ParseError::new("too big inline request")),
            _ => return Ok(None),
        };
        let line = buf.split_to(nl + 1).freeze();
        let mut end = nl;
        if end > 0 && line[end - 1] == b'\r' {
            end -= 1;
        }
        match split_args(&line[..end]) {
            Some(args) => Ok(Some(args.into_iter().map(Bytes::from).collect())),
            None => Err(ParseError::new("unbalanced quotes in request")),
        }
    }
}

/// Splits a line into arguments like Redis's `sdssplitargs`: whitespace
/// separated, double quotes with `\n \r \t \b \a \xHH` escapes, single quotes
/// with `\'`. A closing quote must be followed by a space or the end.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n
            && (line[i] == b' '
                || line[i] == b'\t'
                || line[i] == b'\n'
                || line[i] == b'\r'
                || line[i] == 0x0b
                || line[i] == 0x0c)
        {
            i += 1;
        }
        if i >= n {
            return Some(out);
        }
        let mut cur = Vec::new();
        let mut inq = false;
        let mut insq = false;
        loop {
            if inq {
                if i >= n {
                    return None;
                }
                if line[i] == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && line[i + 2].is_ascii_hexdigit()
                    && line[i + 3].is_ascii_hexdigit()
                {
                    let h = |c: u8| (c as char).to_digit(16).unwrap() as u8;
                    cur.push(h(line[i + 2]) * 16 + h(line[i + 3]));
                    i += 3;
                } else if line[i] == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        c => c,
                    });
                } else if line[i] == b'"' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else if insq {
                if i >= n {
                    return None;
                }
                if line[i] == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if line[i] == b'\'' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        i += 1;
                        break;
                    }
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        out.push(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> (Vec<Request>, Option<ParseError>) {
        let mut p = Parser::new(512 * 1024 * 1024);
        let mut buf = BytesMut::from(input);
        let mut out = vec![];
        loop {
            match p.next(&mut buf) {
                Ok(Some(r)) => out.push(r),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn multibulk_and_inline() {
        let (r, e) = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\na\r\nPING\r\n*0\r\nSET \"a b\" 'c'\r\n");
        assert!(e.is_none());
        assert_eq!(r.len(), 3);
        assert_eq!(r[0], vec![Bytes::from("GET"), Bytes::from("a")]);
        assert_eq!(r[1], vec![Bytes::from("PING")]);
        assert_eq!(
            r[2],
            vec![Bytes::from("SET"), Bytes::from("a b"), Bytes::from("c")]
        );
    }

    #[test]
    fn partial_input_resumes() {
        let mut p = Parser::new(1 << 20);
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGE"[..]);
        assert_eq!(p.next(&mut buf), Ok(None));
        buf.extend_from_slice(b"T\r\n$1\r\na\r\n");
        assert_eq!(p.next(&mut buf).unwrap().unwrap().len(), 2);
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse_all(b"*1\r\n$abc\r\n").1,
            Some(ParseError::new("invalid bulk length"))
        );
        assert_eq!(
            parse_all(b"*x\r\n").1,
            Some(ParseError::new("invalid multibulk length"))
        );
        assert_eq!(
            parse_all(b"*1\r\nfoo\r\n").1,
            Some(ParseError("expected '$', got '".into(), Some(b'f')))
        );
        assert_eq!(
            parse_all(b"SET \"a\r\n").1,
            Some(ParseError::new("unbalanced quotes in request"))
        );
        assert_eq!(
            parse_all(&vec![b'a'; 70000]).1,
            Some(ParseError::new("too big inline request"))
        );
        assert!(parse_all(b"*1\r\n$2147483648\r\n").1.is_some());
    }
}

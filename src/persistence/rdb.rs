//! The RDB file format (version 10, as Redis 7.0 writes it): encoding and
//! decoding of lengths, strings (integer-encoded, LZF-compressed), aux
//! fields, database selectors, expire times and values.

use super::{crc64, lzf};
use crate::store::{SBytes, Value};
use std::io::{self, Write};

pub const RDB_VERSION: u32 = 10;

pub const T_STRING: u8 = 0;
pub const T_LIST: u8 = 1;
pub const T_SET: u8 = 2;
pub const T_ZSET: u8 = 3;
pub const T_HASH: u8 = 4;
pub const T_ZSET_2: u8 = 5;
pub const T_HASH_ZIPMAP: u8 = 9;
pub const T_LIST_ZIPLIST: u8 = 10;
pub const T_SET_INTSET: u8 = 11;
pub const T_ZSET_ZIPLIST: u8 = 12;
pub const T_HASH_ZIPLIST: u8 = 13;
pub const T_LIST_QUICKLIST: u8 = 14;
pub const T_STREAM_LISTPACKS: u8 = 15;
pub const T_HASH_LISTPACK: u8 = 16;
pub const T_ZSET_LISTPACK: u8 = 17;
pub const T_LIST_QUICKLIST_2: u8 = 18;
pub const T_STREAM_LISTPACKS_2: u8 = 19;

pub const OP_FUNCTION2: u8 = 245;
pub const OP_MODULE_AUX: u8 = 247;
pub const OP_IDLE: u8 = 248;
pub const OP_FREQ: u8 = 249;
pub const OP_AUX: u8 = 250;
pub const OP_RESIZEDB: u8 = 251;
pub const OP_EXPIRETIME_MS: u8 = 252;
pub const OP_EXPIRETIME: u8 = 253;
pub const OP_SELECTDB: u8 = 254;
pub const OP_EOF: u8 = 255;

const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// Serializes into any writer, keeping the running CRC64.
pub struct Writer<W: Write> {
    w: W,
    crc: u64,
    pub compress: bool,
    pub checksum: bool,
    pub written: u64,
}

impl<W: Write> Writer<W> {
    pub fn new(w: W, compress: bool, checksum: bool) -> Writer<W> {
        Writer {
            w,
            crc: 0,
            compress,
            checksum,
            written: 0,
        }
    }

    pub fn raw(&mut self, b: &[u8]) -> io::Result<()> {
        if self.checksum {
            self.crc = crc64::update(self.crc, b);
        }
        self.written += b.len() as u64;
        self.w.write_all(b)
    }

    pub fn byte(&mut self, b: u8) -> io::Result<()> {
        self.raw(&[b])
    }

    pub fn len(&mut self, n: u64) -> io::Result<()> {
        if n < 1 << 6 {
            self.byte(n as u8)
        } else if n < 1 << 14 {
            self.raw(&[0x40 | (n >> 8) as u8, n as u8])
        } else if n <= u32::MAX as u64 {
            self.byte(0x80)?;
            self.raw(&(n as u32).to_be_bytes())
        } else {
            self.byte(0x81)?;
            self.raw(&n.to_be_bytes())
        }
    }

    /// A string, integer-encoded when it is a canonical small integer and
    /// LZF-compressed (rdbcompression) when longer than 20 bytes and it helps.
    pub fn string(&mut self, s: &[u8]) -> io::Result<()> {
        if s.len() <= 11 {
            if let Some(v) = crate::util::parse_i64(s) {
                if v >= i8::MIN as i64 && v <= i8::MAX as i64 {
                    return self.raw(&[0xC0 | ENC_INT8, v as i8 as u8]);
                } else if v >= i16::MIN as i64 && v <= i16::MAX as i64 {
                    self.byte(0xC0 | ENC_INT16)?;
                    return self.raw(&(v as i16).to_le_bytes());
                } else if v >= i32::MIN as i64 && v <= i32::MAX as i64 {
                    self.byte(0xC0 | ENC_INT32)?;
                    return self.raw(&(v as i32).to_le_bytes());
                }
            }
        }
        if self.compress && s.len() > 20 {
            if let Some(c) = lzf::compress(s, s.len().saturating_sub(4)) {
                self.byte(0xC0 | ENC_LZF)?;
                self.len(c.len() as u64)?;
                self.len(s.len() as u64)?;
                return self.raw(&c);
            }
        }
        self.len(s.len() as u64)?;
        self.raw(s)
    }

    /// An integer as Redis's string encoding of its decimal form.
    pub fn string_int(&mut self, v: i64) -> io::Result<()> {
        self.string(itoa::Buffer::new().format(v).as_bytes())
    }

    pub fn aux(&mut self, k: &str, v: &[u8]) -> io::Result<()> {
        self.byte(OP_AUX)?;
        self.string(k.as_bytes())?;
        self.string(v)
    }

    /// A double in binary form (ZSET_2 scores).
    pub fn binary_double(&mut self, v: f64) -> io::Result<()> {
        self.raw(&v.to_le_bytes())
    }

    /// The header: magic, version and the aux fields Redis writes.
    pub fn header(&mut self, aux: &[(&str, Vec<u8>)]) -> io::Result<()> {
        self.raw(format!("REDIS{:04}", RDB_VERSION).as_bytes())?;
        for (k, v) in aux {
            self.aux(k, v)?;
        }
        Ok(())
    }

    pub fn select_db(&mut self, db: usize, size: u64, expires: u64) -> io::Result<()> {
        self.byte(OP_SELECTDB)?;
        self.len(db as u64)?;
        self.byte(OP_RESIZEDB)?;
        self.len(size)?;
        self.len(expires)
    }

    /// One key: its expire time, type byte, name and value.
    pub fn entry(&mut self, key: &[u8], val: &Value, expire: i64) -> io::Result<()> {
        if expire != 0 {
            self.byte(OP_EXPIRETIME_MS)?;
            self.raw(&expire.to_le_bytes())?;
        }
        super::types::write_value(self, key, val)
    }

    /// EOF opcode and checksum (zero when rdbchecksum is off).
    pub fn finish(mut self) -> io::Result<W> {
        self.eof()?;
        Ok(self.w)
    }

    /// Writes the EOF opcode and checksum, keeping the writer.
    pub fn eof(&mut self) -> io::Result<()> {
        self.byte(OP_EOF)?;
        let crc = if self.checksum { self.crc } else { 0 };
        self.w.write_all(&crc.to_le_bytes())?;
        self.w.flush()
    }

    pub fn inner_mut(&mut self) -> &mut W {
        &mut self.w
    }

    pub fn crc(&self) -> u64 {
        self.crc
    }
}

/// Why a file could not be loaded.
#[derive(Debug)]
pub struct LoadError(pub String);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub type LoadResult<T> = Result<T, LoadError>;

pub fn corrupt<T>(what: &str) -> LoadResult<T> {
    Err(LoadError(format!("Short read or corrupted data: {}", what)))
}

/// Reads an RDB image from memory.
pub struct Reader<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    pub fn take(&mut self, n: usize) -> LoadResult<&'a [u8]> {
        if n > self.buf.len() - self.pos {
            return corrupt("unexpected end of file");
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn byte(&mut self) -> LoadResult<u8> {
        Ok(self.take(1)?[0])
    }

    /// A length, or (with `.1 == true`) a special string encoding number.
    pub fn len_enc(&mut self) -> LoadResult<(u64, bool)> {
        let b = self.byte()?;
        match b >> 6 {
            0 => Ok(((b & 0x3f) as u64, false)),
            1 => Ok(((((b & 0x3f) as u64) << 8) | self.byte()? as u64, false)),
            2 => match b {
                0x80 => Ok((
                    u32::from_be_bytes(self.take(4)?.try_into().unwrap()) as u64,
                    false,
                )),
                0x81 => Ok((u64::from_be_bytes(self.take(8)?.try_into().unwrap()), false)),
                _ => corrupt("unknown length encoding"),
            },
            _ => Ok(((b & 0x3f) as u64, true)),
        }
    }

    pub fn len(&mut self) -> LoadResult<u64> {
        match self.len_enc()? {
            (n, false) => Ok(n),
            _ => corrupt("unexpected encoded length"),
        }
    }

    pub fn string(&mut self) -> LoadResult<Vec<u8>> {
        let (n, enc) = self.len_enc()?;
        if !enc {
            return Ok(self.take(n as usize)?.to_vec());
        }
        match n as u8 {
            ENC_INT8 => Ok((self.byte()? as i8).to_string().into_bytes()),
            ENC_INT16 => Ok(i16::from_le_bytes(self.take(2)?.try_into().unwrap())
                .to_string()
                .into_bytes()),
            ENC_INT32 => Ok(i32::from_le_bytes(self.take(4)?.try_into().unwrap())
                .to_string()
                .into_bytes()),
            ENC_LZF => {
                let clen = self.len()? as usize;
                let len = self.len()? as usize;
                let c = self.take(clen)?;
                // LZF expands at most ~88 times: a larger length is corrupt
                // (and must not size an allocation).
                if len > clen.saturating_mul(100) + 64 {
                    return corrupt("LZF length out of range");
                }
                lzf::decompress(c, len).ok_or(LoadError("Invalid LZF compressed string".into()))
            }
            _ => corrupt("unknown string encoding"),
        }
    }

    pub fn binary_double(&mut self) -> LoadResult<f64> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }

    /// The old ZSET text double: length byte, 253 nan, 254 +inf, 255 -inf.
    pub fn text_double(&mut self) -> LoadResult<f64> {
        let l = self.byte()?;
        match l {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            _ => {
                let s = self.take(l as usize)?;
                std::str::from_utf8(s)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or(LoadError("bad double".into()))
            }
        }
    }
}

/// A key read from a file.
pub struct LoadedKey {
    pub db: usize,
    pub key: Vec<u8>,
    pub val: Value,
    pub expire: i64,
    pub lru_idle: Option<u64>,
    pub lfu_freq: Option<u8>,
}

/// What an RDB image carries besides keys.
pub enum Meta<'a> {
    /// An aux field (`redis-ver`, `ctime`, ...).
    Aux(&'a [u8], &'a [u8]),
    /// A function library's code (OP_FUNCTION2).
    Function(Vec<u8>),
    /// A database's size hint (RESIZEDB): keys, keys with an expire.
    ResizeDb(usize, u64, u64),
}

/// Walks an RDB image, handing every key to `f` and everything else to
/// `meta`. Verifies magic, version and (when present and non-zero) the
/// checksum. Returns the length of the image (up to and including the
/// checksum), so an AOF tail after it can be found.
pub fn load(
    buf: &[u8],
    mut f: impl FnMut(LoadedKey) -> LoadResult<()>,
    mut meta: impl FnMut(Meta) -> LoadResult<()>,
) -> LoadResult<usize> {
    if buf.len() < 9 || &buf[..5] != b"REDIS" {
        return Err(LoadError(
            "Wrong signature trying to load DB from file".into(),
        ));
    }
    let ver: u32 = std::str::from_utf8(&buf[5..9])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(LoadError(
            "Wrong signature trying to load DB from file".into(),
        ))?;
    if !(1..=RDB_VERSION).contains(&ver) {
        return Err(LoadError(format!(
            "Can't handle RDB format version {}",
            ver
        )));
    }
    let mut r = Reader::new(buf);
    r.pos = 9;
    let mut db = 0usize;
    let mut expire = 0i64;
    let mut lru_idle = None;
    let mut lfu_freq = None;
    loop {
        let op = r.byte()?;
        match op {
            OP_EXPIRETIME_MS => {
                expire = i64::from_le_bytes(r.take(8)?.try_into().unwrap());
                continue;
            }
            OP_EXPIRETIME => {
                expire = i32::from_le_bytes(r.take(4)?.try_into().unwrap()) as i64 * 1000;
                continue;
            }
            OP_IDLE => {
                lru_idle = Some(r.len()?);
                continue;
            }
            OP_FREQ => {
                lfu_freq = Some(r.byte()?);
                continue;
            }
            OP_SELECTDB => {
                db = r.len()? as usize;
                continue;
            }
            OP_RESIZEDB => {
                let size = r.len()?;
                let expires = r.len()?;
                meta(Meta::ResizeDb(db, size, expires))?;
                continue;
            }
            OP_AUX => {
                let k = r.string()?;
                let v = r.string()?;
                meta(Meta::Aux(&k, &v))?;
                continue;
            }
            OP_MODULE_AUX => {
                return Err(LoadError("Module auxiliary data is not supported".into()))
            }
            OP_FUNCTION2 => {
                let code = r.string()?;
                meta(Meta::Function(code))?;
                continue;
            }
            OP_EOF => {
                if ver >= 5 && r.pos + 8 <= buf.len() {
                    let stored = u64::from_le_bytes(buf[r.pos..r.pos + 8].try_into().unwrap());
                    let computed = crc64::update(0, &buf[..r.pos]);
                    if stored != 0 && stored != computed {
                        return Err(LoadError(format!("Wrong RDB checksum expected: ({:x}) got: ({:x}). Aborting now.\nInternal error in RDB reading offset {}: RDB CRC error", computed, stored, r.pos)));
                    }
                    return Ok(r.pos + 8);
                }
                return Ok(r.pos);
            }
            t => {
                let key = r.string()?;
                let val = super::types::read_value(&mut r, t)?;
                // Empty collections are skipped, as Redis does.
                if !super::types::is_empty_collection(&val) {
                    f(LoadedKey {
                        db,
                        key,
                        val,
                        expire,
                        lru_idle,
                        lfu_freq,
                    })?;
                }
                expire = 0;
                lru_idle = None;
                lfu_freq = None;
            }
        }
    }
}

/// A string value as the keyspace stores it.
pub fn string_value(s: Vec<u8>) -> Value {
    Value::Str(SBytes::from_vec(s))
}

/// Walks a run of key records (what `Writer::entry` writes, no header),
/// handing each key to `f` with database `db`.
pub fn read_records(
    buf: &[u8],
    db: usize,
    mut f: impl FnMut(LoadedKey) -> LoadResult<()>,
) -> LoadResult<()> {
    let mut r = Reader::new(buf);
    let mut expire = 0i64;
    while r.pos < buf.len() {
        let t = r.byte()?;
        if t == OP_EXPIRETIME_MS {
            expire = i64::from_le_bytes(r.take(8)?.try_into().unwrap());
            continue;
        }
        let key = r.string()?;
        let val = super::types::read_value(&mut r, t)?;
        f(LoadedKey {
            db,
            key,
            val,
            expire,
            lru_idle: None,
            lfu_freq: None,
        })?;
        expire = 0;
    }
    Ok(())
}

//! `long double` arithmetic for INCRBYFLOAT and HINCRBYFLOAT, through a
//! small C shim (csrc/ldouble.c): Redis computes these in the platform's
//! extended precision and prints them with `%.17Lf`, and matching its
//! replies byte for byte needs the same arithmetic.

use std::os::raw::{c_char, c_int};

extern "C" {
    fn magpie_ld_incr(
        a: *const c_char,
        alen: usize,
        b: *const c_char,
        blen: usize,
        out: *mut c_char,
        outlen: usize,
    ) -> c_int;
}

#[derive(Debug, PartialEq, Eq)]
pub enum IncrError {
    /// The stored value is not a valid float.
    BadValue,
    /// The increment is not a valid float.
    BadIncrement,
    /// The result would be NaN or infinite.
    NotFinite,
}

/// Returns the formatted sum `cur + by` (`cur` empty means 0).
pub fn incr(cur: &[u8], by: &[u8]) -> Result<Vec<u8>, IncrError> {
    let mut out = vec![0u8; 5200];
    // SAFETY: pointers and lengths describe live buffers; the C side writes
    // at most `out.len()` bytes and returns the length written.
    let n = unsafe {
        magpie_ld_incr(
            cur.as_ptr() as _,
            cur.len(),
            by.as_ptr() as _,
            by.len(),
            out.as_mut_ptr() as _,
            out.len(),
        )
    };
    match n {
        -1 => Err(IncrError::BadValue),
        -3 => Err(IncrError::BadIncrement),
        n if n < 0 => Err(IncrError::NotFinite),
        n => {
            out.truncate(n as usize);
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_long_double() {
        assert_eq!(incr(b"10.5", b"0.1").unwrap(), b"10.6");
        assert_eq!(incr(b"", b"0.1").unwrap(), b"0.1");
        assert_eq!(incr(b"0x10", b"0x1p-2").unwrap(), b"16.25");
        assert_eq!(incr(b"1", b"-1").unwrap(), b"0");
        assert_eq!(incr(b"abc", b"1"), Err(IncrError::BadValue));
        assert_eq!(incr(b"1", b" 1"), Err(IncrError::BadIncrement));
        assert!(incr(b"1.7e308", b"1.7e308").is_ok());
        assert_eq!(incr(b"1e4932", b"1e4932"), Err(IncrError::NotFinite));
    }
}

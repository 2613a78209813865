//! CRC-64/Jones (reflected, polynomial 0xad93d23594c935a9), the checksum
//! Redis appends to RDB files and DUMP payloads.

const fn make_table() -> [u64; 256] {
    // Reflected form of 0xad93d23594c935a9.
    const POLY: u64 = 0x95ac_9329_ac4b_c9b5;
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u64;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static TABLE: [u64; 256] = make_table();

/// Continues a CRC over `data` (start with 0).
pub fn update(mut crc: u64, data: &[u8]) -> u64 {
    for &b in data {
        crc = TABLE[((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
mod tests {
    #[test]
    fn check_value() {
        assert_eq!(super::update(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }
}

//! The AOF manifest: one line per file, `file <name> seq <n> type <b|h|i>`
//! (base first, then history, then incremental files in order). Extra
//! key/value pairs on a line are ignored, as Redis does.

use super::Names;
use std::io::Write;
use std::path::Path;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FileKind {
    Base,
    History,
    Incr,
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub name: String,
    pub seq: u64,
    pub kind: FileKind,
}

#[derive(Clone, Debug)]
pub struct Manifest {
    pub base: Option<Entry>,
    pub incr: Vec<Entry>,
    pub history: Vec<Entry>,
    pub cur_base_seq: u64,
    pub cur_incr_seq: u64,
}

impl Manifest {
    pub const fn empty() -> Manifest {
        Manifest {
            base: None,
            incr: Vec::new(),
            history: Vec::new(),
            cur_base_seq: 0,
            cur_incr_seq: 0,
        }
    }
}

/// Splits a line into words, honouring double quotes with `\` escapes
/// (file names with spaces are written quoted).
fn split_words(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let mut w = Vec::new();
        if b[i] == b'"' {
            i += 1;
            loop {
                if i >= b.len() {
                    return None;
                }
                match b[i] {
                    b'\\' if i + 1 < b.len() => {
                        let c = b[i + 1];
                        match c {
                            b'n' => w.push(b'\n'),
                            b'r' => w.push(b'\r'),
                            b't' => w.push(b'\t'),
                            b'x' if i + 3 < b.len() => {
                                let h = std::str::from_utf8(&b[i + 2..i + 4])
                                    .ok()
                                    .and_then(|s| u8::from_str_radix(s, 16).ok())?;
                                w.push(h);
                                i += 2;
                            }
                            c => w.push(c),
                        }
                        i += 2;
                    }
                    b'"' => {
                        i += 1;
                        if i < b.len() && !b[i].is_ascii_whitespace() {
                            return None;
                        }
                        break;
                    }
                    c => {
                        w.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < b.len() && !b[i].is_ascii_whitespace() {
                w.push(b[i]);
                i += 1;
            }
        }
        out.push(String::from_utf8_lossy(&w).into_owned());
    }
    Some(out)
}

/// Parses a manifest. Errors carry Redis's log text.
pub fn parse(text: &str) -> Result<Manifest, String> {
    let mut m = Manifest::empty();
    let mut any = false;
    let mut last_incr = 0u64;
    for raw in text.split_inclusive('\n') {
        if raw.starts_with('#') {
            continue;
        }
        if !raw.ends_with('\n') {
            return Err("Invalid AOF manifest file format".into());
        }
        let line = raw.trim_end_matches('\n').trim_end_matches('\r');
        if line.len() > 1024 {
            return Err("The AOF manifest file contains too long line".into());
        }
        let words =
            split_words(line).ok_or_else(|| "Invalid AOF manifest file format".to_string())?;
        if words.is_empty() || words.len() % 2 != 0 {
            return Err("Invalid AOF manifest file format".into());
        }
        let (mut name, mut seq, mut kind) = (None, None, None);
        for kv in words.chunks(2) {
            match kv[0].as_str() {
                "file" => name = Some(kv[1].clone()),
                "seq" => seq = kv[1].parse::<u64>().ok(),
                "type" => kind = Some(kv[1].clone()),
                _ => {}
            }
        }
        let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
            return Err("Invalid AOF manifest file format".into());
        };
        if name.contains('/') {
            return Err("File can't be a path, just a filename".into());
        }
        any = true;
        match kind.as_str() {
            "b" => {
                if m.base.is_some() {
                    return Err("Found duplicate base file information".into());
                }
                m.cur_base_seq = seq;
                m.base = Some(Entry {
                    name,
                    seq,
                    kind: FileKind::Base,
                });
            }
            "h" => m.history.push(Entry {
                name,
                seq,
                kind: FileKind::History,
            }),
            "i" => {
                if seq <= last_incr {
                    return Err("Found a non-monotonic sequence number".into());
                }
                last_incr = seq;
                m.cur_incr_seq = seq;
                m.incr.push(Entry {
                    name,
                    seq,
                    kind: FileKind::Incr,
                });
            }
            _ => return Err("Unknown AOF file type".into()),
        }
    }
    if !any {
        return Err("Found an empty AOF manifest".into());
    }
    Ok(m)
}

/// Reads and parses a manifest file.
pub fn read(path: &Path) -> Result<Manifest, String> {
    let text = std::fs::read(path).map_err(|e| e.to_string())?;
    parse(&String::from_utf8_lossy(&text))
}

fn fmt_name(n: &str) -> String {
    if n.bytes()
        .all(|c| c.is_ascii_graphic() && c != b'"' && c != b'\\')
    {
        return n.to_string();
    }
    let mut s = String::from("\"");
    for c in n.bytes() {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            c if c.is_ascii_graphic() || c == b' ' => s.push(c as char),
            c => s.push_str(&format!("\\x{:02x}", c)),
        }
    }
    s.push('"');
    s
}

pub fn to_string(m: &Manifest) -> String {
    let mut s = String::new();
    let line = |s: &mut String, e: &Entry, t: char| {
        s.push_str(&format!(
            "file {} seq {} type {}\n",
            fmt_name(&e.name),
            e.seq,
            t
        ))
    };
    if let Some(b) = &m.base {
        line(&mut s, b, 'b');
    }
    for h in &m.history {
        line(&mut s, h, 'h');
    }
    for i in &m.incr {
        line(&mut s, i, 'i');
    }
    s
}

/// Writes the manifest atomically (temp file, fsync, rename, fsync dir).
pub fn write(names: &Names, m: &Manifest) -> std::io::Result<()> {
    let path = names.manifest_path();
    let tmp = names.dir.join(format!("temp-{}.manifest", names.prefix));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(to_string(m).as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    if let Ok(d) = std::fs::File::open(&names.dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let m = parse("file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.3.incr.aof seq 3 type i newkey v\n").unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.1.base.rdb");
        assert_eq!(m.incr.len(), 2);
        assert_eq!(to_string(&m), "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.3.incr.aof seq 3 type i\n");
        assert!(parse("").is_err());
        assert!(parse("file a seq 1 type x\n").is_err());
        assert!(parse("file a seq 1\n").is_err());
        assert!(parse("file a seq 2 type i\nfile b seq 1 type i\n").is_err());
        assert!(parse("file a seq 1 type b\nfile b seq 1 type b\n").is_err());
        let q = parse("file \"my aof.1.incr.aof\" seq 1 type i\n").unwrap();
        assert_eq!(q.incr[0].name, "my aof.1.incr.aof");
        assert_eq!(fmt_name("my aof"), "\"my aof\"");
    }
}

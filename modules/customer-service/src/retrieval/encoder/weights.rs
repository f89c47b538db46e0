//! Reader for the encoder's `weights.npz`: a ZIP archive of NumPy `.npy` arrays.
//!
//! Covers what `numpy.savez[_compressed]` writes — members stored (method 0) or
//! DEFLATE-compressed (method 8), ZIP64 size fields, `.npy` format versions 1–3 in C
//! order — and nothing more. A member is inflated only when it is asked for, so a
//! load never holds the whole archive inflated at once, and every member's CRC-32 is
//! checked: a truncated download fails here, naming the member, instead of yielding
//! a model that embeds garbage.

use std::collections::HashMap;

use anyhow::{anyhow, bail, ensure, Context, Result};

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL_DIR: u32 = 0x0605_4b50;
const ZIP64_END_LOCATOR: u32 = 0x0706_4b50;
const ZIP64_END_RECORD: u32 = 0x0606_4b50;
/// A 16/32-bit ZIP field holding this value defers to the ZIP64 record or extra field.
const ZIP64_U16: u64 = 0xFFFF;
const ZIP64_U32: u64 = 0xFFFF_FFFF;
const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// Where one member's data sits in the archive, as its central directory says.
struct Member {
    method: u16,
    crc32: u32,
    compressed_len: usize,
    len: usize,
    local_header: usize,
}

/// An opened `.npz` file; arrays are decoded by name, each at most once.
pub(super) struct Npz {
    file: Vec<u8>,
    members: HashMap<String, Member>,
}

impl Npz {
    /// Reads the central directory of a whole `.npz` file held in memory.
    pub(super) fn parse(file: Vec<u8>) -> Result<Self> {
        let members = central_directory(&file)?;
        Ok(Self { file, members })
    }

    /// The float32 array `name`, which must have exactly `shape`.
    pub(super) fn f32s(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let array = self.array(name, "<f4", shape)?;
        Ok(array
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    /// The uint8 array `name`, which must have exactly `shape`.
    pub(super) fn u8s(&mut self, name: &str, shape: &[usize]) -> Result<Vec<u8>> {
        self.array(name, "|u1", shape)
    }

    /// The float64 scalar (shape `()`) `name`.
    pub(super) fn f64_scalar(&mut self, name: &str) -> Result<f64> {
        let array = self.array(name, "<f8", &[])?;
        let bytes: [u8; 8] = array[..8].try_into().context("a scalar of eight bytes")?;
        Ok(f64::from_le_bytes(bytes))
    }

    /// The data bytes of `name.npy`, checked to be of `dtype` and `shape`.
    fn array(&mut self, name: &str, dtype: &str, shape: &[usize]) -> Result<Vec<u8>> {
        let member_name = format!("{name}.npy");
        let member = self
            .members
            .remove(&member_name)
            .ok_or_else(|| anyhow!("weights.npz has no array `{name}`"))?;
        let npy = inflate(&self.file, &member).with_context(|| format!("member {member_name}"))?;
        decode_npy(npy, dtype, shape).with_context(|| format!("array `{name}` of weights.npz"))
    }
}

fn u16_at(b: &[u8], at: usize) -> Result<u16> {
    let s = b.get(at..at + 2).ok_or_else(|| anyhow!("truncated zip"))?;
    Ok(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32> {
    let s = b.get(at..at + 4).ok_or_else(|| anyhow!("truncated zip"))?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], at: usize) -> Result<u64> {
    let s = b.get(at..at + 8).ok_or_else(|| anyhow!("truncated zip"))?;
    let mut le = [0u8; 8];
    le.copy_from_slice(s);
    Ok(u64::from_le_bytes(le))
}

fn to_usize(v: u64) -> Result<usize> {
    usize::try_from(v).map_err(|_| anyhow!("zip offset {v} too large"))
}

/// Every member of the archive, by name, from its central directory.
fn central_directory(file: &[u8]) -> Result<HashMap<String, Member>> {
    // The end-of-central-directory record is the last thing in the file, followed
    // only by a comment of at most 65535 bytes: search backwards for its signature.
    let earliest = file.len().saturating_sub(22 + 65535);
    let eocd = (earliest..file.len().saturating_sub(21))
        .rev()
        .find(|&i| u32_at(file, i).ok() == Some(END_OF_CENTRAL_DIR))
        .ok_or_else(|| anyhow!("not a zip file (no end of central directory)"))?;
    let mut entries = u64::from(u16_at(file, eocd + 10)?);
    let mut directory = u64::from(u32_at(file, eocd + 16)?);
    if entries == ZIP64_U16 || directory == ZIP64_U32 {
        // numpy writes ZIP64 records for large arrays; the locator sits right
        // before the classic record and points at the ZIP64 one.
        let locator = eocd.checked_sub(20).context("zip64 locator missing")?;
        ensure!(
            u32_at(file, locator)? == ZIP64_END_LOCATOR,
            "zip64 locator missing"
        );
        let record = to_usize(u64_at(file, locator + 8)?)?;
        ensure!(
            u32_at(file, record)? == ZIP64_END_RECORD,
            "bad zip64 end record"
        );
        entries = u64_at(file, record + 32)?;
        directory = u64_at(file, record + 48)?;
    }

    let mut members = HashMap::new();
    let mut at = to_usize(directory)?;
    for _ in 0..entries {
        ensure!(
            u32_at(file, at)? == CENTRAL_HEADER,
            "bad central directory entry"
        );
        let method = u16_at(file, at + 10)?;
        let crc32 = u32_at(file, at + 16)?;
        let mut compressed_len = u64::from(u32_at(file, at + 20)?);
        let mut len = u64::from(u32_at(file, at + 24)?);
        let name_len = usize::from(u16_at(file, at + 28)?);
        let extra_len = usize::from(u16_at(file, at + 30)?);
        let comment_len = usize::from(u16_at(file, at + 32)?);
        let mut local_header = u64::from(u32_at(file, at + 42)?);
        let name_at = at + 46;
        let name = file
            .get(name_at..name_at + name_len)
            .context("truncated zip entry name")?;
        let name = String::from_utf8_lossy(name).into_owned();
        let extra = file
            .get(name_at + name_len..name_at + name_len + extra_len)
            .context("truncated zip extra field")?;
        // The ZIP64 extra field (id 1) holds, in this order, only those of the three
        // values whose 32-bit slot above is saturated.
        let mut e = 0;
        while e + 4 <= extra.len() {
            let id = u16_at(extra, e)?;
            let field_len = usize::from(u16_at(extra, e + 2)?);
            if id == 1 {
                let mut q = e + 4;
                for value in [&mut len, &mut compressed_len, &mut local_header] {
                    if *value == ZIP64_U32 {
                        *value = u64_at(extra, q)?;
                        q += 8;
                    }
                }
            }
            e += 4 + field_len;
        }
        at = name_at + name_len + extra_len + comment_len;
        members.insert(
            name,
            Member {
                method,
                crc32,
                compressed_len: to_usize(compressed_len)?,
                len: to_usize(len)?,
                local_header: to_usize(local_header)?,
            },
        );
    }
    Ok(members)
}

/// The member's bytes, inflated and checked against its size and CRC-32.
fn inflate(file: &[u8], member: &Member) -> Result<Vec<u8>> {
    let header = member.local_header;
    ensure!(u32_at(file, header)? == LOCAL_HEADER, "bad local header");
    // The local header repeats name and extra field, with lengths of its own.
    let start = header
        + 30
        + usize::from(u16_at(file, header + 26)?)
        + usize::from(u16_at(file, header + 28)?);
    let raw = file
        .get(start..start + member.compressed_len)
        .context("truncated data")?;
    let bytes = match member.method {
        0 => raw.to_vec(),
        8 => miniz_oxide::inflate::decompress_to_vec_with_limit(raw, member.len)
            .map_err(|e| anyhow!("inflate failed: {e:?}"))?,
        m => bail!("unsupported compression method {m}"),
    };
    ensure!(
        bytes.len() == member.len && crc32(&bytes) == member.crc32,
        "size or CRC-32 mismatch (damaged or truncated download?)"
    );
    Ok(bytes)
}

/// CRC-32 as ZIP uses it (IEEE 802.3 polynomial, reflected).
fn crc32(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = [0u32; 256];
        for (byte, slot) in (0u32..).zip(table.iter_mut()) {
            let mut c = byte;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *slot = c;
        }
        table
    });
    let mut crc = !0u32;
    for &b in data {
        crc = table[usize::from((crc as u8) ^ b)] ^ (crc >> 8);
    }
    !crc
}

/// The data bytes of one `.npy` file, checked against the expected dtype and shape.
fn decode_npy(mut npy: Vec<u8>, dtype: &str, shape: &[usize]) -> Result<Vec<u8>> {
    ensure!(
        npy.len() >= 10 && npy.starts_with(NPY_MAGIC),
        "not a .npy array"
    );
    // Version 1 has a 16-bit header length, versions 2 and 3 a 32-bit one.
    let (header_len, header_at) = match npy[6] {
        1 => (usize::from(u16_at(&npy, 8)?), 10),
        2 | 3 => (to_usize(u64::from(u32_at(&npy, 8)?))?, 12),
        v => bail!("unsupported .npy version {v}"),
    };
    let header = npy
        .get(header_at..header_at + header_len)
        .context("truncated .npy header")?;
    let header = std::str::from_utf8(header).context(".npy header is not UTF-8")?;

    let descr = header_value(header, "descr")?.trim_matches(['\'', '"']);
    ensure!(descr == dtype, "dtype {descr}, expected {dtype}");
    ensure!(
        header_value(header, "fortran_order")? == "False",
        "Fortran order is not supported"
    );
    let found: Vec<usize> = header_value(header, "shape")?
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| anyhow!("bad shape {s:?}")))
        .collect::<Result<_>>()?;
    ensure!(found == shape, "shape {found:?}, expected {shape:?}");

    let item_size: usize = dtype[2..].parse().context("dtype size")?;
    let data_len = shape.iter().product::<usize>() * item_size;
    let data_at = header_at + header_len;
    ensure!(npy.len() >= data_at + data_len, "truncated .npy data");
    npy.truncate(data_at + data_len);
    npy.drain(..data_at);
    Ok(npy)
}

/// The text of `'key': value` in the Python-dict header of a `.npy` file, up to the
/// next comma outside parentheses (the shape is a tuple with commas in it).
fn header_value<'h>(header: &'h str, key: &str) -> Result<&'h str> {
    let quoted = format!("'{key}':");
    let at = header
        .find(&quoted)
        .map(|i| i + quoted.len())
        .ok_or_else(|| anyhow!(".npy header lacks `{key}`"))?;
    let rest = &header[at..];
    let mut depth = 0;
    for (i, c) in rest.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' | '}' if depth == 0 => return Ok(rest[..i].trim()),
            _ => {}
        }
    }
    Ok(rest.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version-1 `.npy` file as numpy writes it (header padded to 64 bytes).
    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&u16::try_from(header.len()).unwrap().to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    /// A zip archive of the given members: stored, or raw-DEFLATE compressed.
    fn zip(members: &[(&str, Vec<u8>, bool)]) -> Vec<u8> {
        let mut file = Vec::new();
        let mut directory = Vec::new();
        for (name, data, deflate) in members {
            let body = if *deflate {
                miniz_oxide::deflate::compress_to_vec(data, 6)
            } else {
                data.clone()
            };
            let offset = u32::try_from(file.len()).unwrap();
            let sizes = |out: &mut Vec<u8>| {
                out.extend_from_slice(&(if *deflate { 8u16 } else { 0 }).to_le_bytes());
                out.extend_from_slice(&[0; 4]); // time and date
                out.extend_from_slice(&crc32(data).to_le_bytes());
                out.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
                out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
                out.extend_from_slice(&u16::try_from(name.len()).unwrap().to_le_bytes());
                out.extend_from_slice(&0u16.to_le_bytes()); // extra field length
            };
            file.extend_from_slice(&LOCAL_HEADER.to_le_bytes());
            file.extend_from_slice(&[20, 0, 0, 0]); // version needed, flags
            sizes(&mut file);
            file.extend_from_slice(name.as_bytes());
            file.extend_from_slice(&body);

            directory.extend_from_slice(&CENTRAL_HEADER.to_le_bytes());
            directory.extend_from_slice(&[20, 0, 20, 0, 0, 0]); // versions, flags
            sizes(&mut directory);
            directory.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
            directory.extend_from_slice(&0u32.to_le_bytes()); // external attributes
            directory.extend_from_slice(&offset.to_le_bytes());
            directory.extend_from_slice(name.as_bytes());
        }
        let directory_at = u32::try_from(file.len()).unwrap();
        let count = u16::try_from(members.len()).unwrap();
        file.extend_from_slice(&directory);
        file.extend_from_slice(&END_OF_CENTRAL_DIR.to_le_bytes());
        file.extend_from_slice(&[0; 4]); // disk numbers
        file.extend_from_slice(&count.to_le_bytes());
        file.extend_from_slice(&count.to_le_bytes());
        file.extend_from_slice(&u32::try_from(directory.len()).unwrap().to_le_bytes());
        file.extend_from_slice(&directory_at.to_le_bytes());
        file.extend_from_slice(&0u16.to_le_bytes()); // comment length
        file
    }

    fn f32_bytes(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn crc32_of_the_check_string() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn reads_stored_and_deflated_members() {
        let matrix = f32_bytes(&[0.0, 1.5, -2.0, 3.25, 4.0, 5.0]);
        let codes: Vec<u8> = (0..64).collect();
        let file = zip(&[
            ("m.npy", npy("<f4", "(2, 3)", &matrix), true),
            ("q.npy", npy("|u1", "(64,)", &codes), false),
            ("eps.npy", npy("<f8", "()", &1e-6f64.to_le_bytes()), true),
        ]);
        let mut npz = Npz::parse(file).unwrap();
        assert_eq!(
            npz.f32s("m", &[2, 3]).unwrap(),
            [0.0, 1.5, -2.0, 3.25, 4.0, 5.0]
        );
        assert_eq!(npz.u8s("q", &[64]).unwrap(), codes);
        assert_eq!(npz.f64_scalar("eps").unwrap(), 1e-6);
    }

    #[test]
    fn names_the_array_that_is_missing_or_misshapen() {
        let file = zip(&[("m.npy", npy("<f4", "(2,)", &f32_bytes(&[1.0, 2.0])), true)]);
        let mut npz = Npz::parse(file.clone()).unwrap();
        let err = format!("{:#}", npz.f32s("m", &[3]).unwrap_err());
        assert!(err.contains("`m`") && err.contains("[2]"), "{err}");
        let err = format!("{:#}", npz.f32s("absent", &[2]).unwrap_err());
        assert!(err.contains("`absent`"), "{err}");
        let mut npz = Npz::parse(file).unwrap();
        let err = format!("{:#}", npz.u8s("m", &[2]).unwrap_err());
        assert!(err.contains("dtype <f4"), "{err}");
    }

    #[test]
    fn a_damaged_member_fails_its_crc() {
        let data = npy("|u1", "(256,)", &[7; 256]);
        let mut file = zip(&[("q.npy", data.clone(), false)]);
        let at = file
            .windows(data.len())
            .position(|w| w == data.as_slice())
            .unwrap();
        file[at + data.len() - 1] ^= 1;
        let err = format!(
            "{:#}",
            Npz::parse(file).unwrap().u8s("q", &[256]).unwrap_err()
        );
        assert!(err.contains("CRC-32"), "{err}");
    }

    #[test]
    fn refuses_what_is_not_a_zip() {
        let err = Npz::parse(b"definitely not an archive".to_vec())
            .err()
            .unwrap();
        assert!(err.to_string().contains("not a zip file"), "{err}");
    }
}

//! HAProxy's hash functions (src/hash.c), the avalanche mix `full_hash`
//! (include/haproxy/tools.h) and `hash-type ... none` (the key read as a
//! number, as gen_hash() does with read_int64()).

use ringlb_config::model::HashFunction;

/// Hashes `data` with `function`, exactly as HAProxy's gen_hash() does before
/// the optional avalanche step (see [`full_hash`]).
pub fn hash(function: HashFunction, data: &[u8]) -> u32 {
    match function {
        HashFunction::Sdbm => sdbm(data),
        HashFunction::Djb2 => djb2(data),
        HashFunction::Wt6 => wt6(data),
        HashFunction::Crc32 => crc32(data),
        HashFunction::None => as_number(data),
    }
}

/// Bob Jenkins' 32-bit full avalanche mix, then a multiplication by a large
/// prime close to 3/4 of 2^32 to spread values all around the ring.
pub fn full_hash(a: u32) -> u32 {
    let mut a = a;
    a = a.wrapping_add(0x7ed5_5d16).wrapping_add(a << 12);
    a = (a ^ 0xc761_c23c) ^ (a >> 19);
    a = a.wrapping_add(0x1656_67b1).wrapping_add(a << 5);
    a = a.wrapping_add(0xd3a2_646c) ^ (a << 9);
    a = a.wrapping_add(0xfd70_46c5).wrapping_add(a << 3);
    a = (a ^ 0xb55a_4f09) ^ (a >> 16);
    a.wrapping_mul(3_221_225_473)
}

pub fn sdbm(data: &[u8]) -> u32 {
    data.iter().fold(0u32, |h, &c| {
        u32::from(c)
            .wrapping_add(h << 6)
            .wrapping_add(h << 16)
            .wrapping_sub(h)
    })
}

pub fn djb2(data: &[u8]) -> u32 {
    data.iter().fold(5381u32, |h, &c| {
        (h << 5).wrapping_add(h).wrapping_add(u32::from(c))
    })
}

/// HAProxy's own function: two words rotated by data-dependent steps.
pub fn wt6(data: &[u8]) -> u32 {
    let mut h0: u32 = 0xa53c_965a;
    let mut h1: u32 = 0x5ca6_953a;
    let mut step0: u32 = 6;
    let mut step1: u32 = 18;
    for &c in data {
        let t = u32::from(c);
        h0 = !(h0 ^ t);
        h1 = !(h1.wrapping_add(t));
        // The C code spells these rotations with two shifts; a step of 0
        // (possible after the first byte) is a plain rotation by 0 there too.
        let t = h1.rotate_left(step0);
        h1 = h0.rotate_left(step1);
        h0 = t;
        let t = ((h0 >> 16) ^ h1) & 0xffff;
        step0 = t & 0x1f;
        step1 = t >> 11;
    }
    h0 ^ h1
}

/// The reflected CRC32 (Ethernet, gzip, PNG; HAProxy's `hash_crc32`), by
/// crc32fast (table or SIMD: the balance hashes every request's key).
pub fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// `hash-type ... none`: HAProxy reads the key with read_int64() (an optional
/// sign, then decimal digits up to the first other byte, saturating) and
/// keeps the low 32 bits. An empty key reads as 0.
fn as_number(data: &[u8]) -> u32 {
    let (neg, digits) = match data.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, data),
    };
    let mut v: u64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d)))
            .unwrap_or(u64::MAX);
    }
    let n: i64 = if neg {
        if v > 1 << 63 {
            i64::MIN
        } else {
            // -v in two's complement, as the C code's `return -i`.
            0i64.wrapping_sub_unsigned(v)
        }
    } else {
        i64::try_from(v).unwrap_or(i64::MAX)
    };
    // Keeping the low 32 bits is the C conversion to unsigned int.
    n as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values computed with HAProxy's C definitions (src/hash.c,
    // full_hash from tools.h) compiled with gcc.
    const VECTORS: &[(&str, u32, u32, u32, u32)] = &[
        ("", 0x0000_0000, 0x0000_1505, 0xf99a_0360, 0x0000_0000),
        ("a", 0x0000_0061, 0x0002_b606, 0x714b_f225, 0xe8b7_be43),
        (
            "haproxy",
            0x0ed5_19b5,
            0x33d7_d490,
            0x8071_3d93,
            0x53cd_3fa0,
        ),
        (
            "/index.html",
            0x3324_2976,
            0xe114_b9cf,
            0x3101_077e,
            0xea22_4b42,
        ),
        ("1wt", 0x1898_156e, 0x0b87_9321, 0x679c_3ca5, 0xedfe_0ca1),
        (
            "123456789",
            0x68a0_7035,
            0x35cd_bb82,
            0x84a1_6c1d,
            0xcbf4_3926,
        ),
        (
            "The quick brown fox jumps over the lazy dog",
            0x8ca7_7173,
            0x34cc_38de,
            0xe4e7_b045,
            0x414f_a339,
        ),
    ];

    #[test]
    fn functions_match_haproxy() {
        for &(s, sd, dj, w6, crc) in VECTORS {
            let d = s.as_bytes();
            assert_eq!(hash(HashFunction::Sdbm, d), sd, "sdbm {s:?}");
            assert_eq!(hash(HashFunction::Djb2, d), dj, "djb2 {s:?}");
            assert_eq!(hash(HashFunction::Wt6, d), w6, "wt6 {s:?}");
            assert_eq!(hash(HashFunction::Crc32, d), crc, "crc32 {s:?}");
        }
    }

    #[test]
    fn textbook_definitions() {
        // djb2: h = h * 33 + c from 5381; sdbm: h = c + h * 65599.
        let s = b"load balancer";
        let dj = s.iter().fold(5381u32, |h, &c| {
            h.wrapping_mul(33).wrapping_add(u32::from(c))
        });
        let sd = s.iter().fold(0u32, |h, &c| {
            h.wrapping_mul(65599).wrapping_add(u32::from(c))
        });
        assert_eq!(djb2(s), dj);
        assert_eq!(sdbm(s), sd);
        // The CRC32 check value of the catalogue.
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn avalanche_matches_haproxy() {
        for (a, h) in [
            (0u32, 0xab4e_d927u32),
            (1, 0x3486_81b6),
            (4096, 0x49c2_008b),
            (4097, 0xa497_2c87),
            (0xffff_ffff, 0x7e64_c182),
            (0xc0a8_0001, 0xcb63_c81e),
        ] {
            assert_eq!(full_hash(a), h, "full_hash({a:#x})");
        }
    }

    #[test]
    fn none_reads_a_number() {
        assert_eq!(hash(HashFunction::None, b"1234"), 1234);
        assert_eq!(hash(HashFunction::None, b"42abc"), 42);
        assert_eq!(hash(HashFunction::None, b"+7"), 7);
        assert_eq!(hash(HashFunction::None, b"-1"), u32::MAX);
        assert_eq!(hash(HashFunction::None, b""), 0);
        assert_eq!(hash(HashFunction::None, b"x1"), 0);
        // 2^32 + 5 keeps its low 32 bits.
        assert_eq!(hash(HashFunction::None, b"4294967301"), 5);
        // Saturation at i64::MAX, as read_int64().
        assert_eq!(
            hash(HashFunction::None, b"99999999999999999999999"),
            i64::MAX as u32
        );
        assert_eq!(hash(HashFunction::None, b"-99999999999999999999999"), 0);
    }
}

//! crypt(3) for the password hashes of `userlist` users, as glibc /
//! libxcrypt compute them (Debian's haproxy checks passwords with
//! crypt_r): SHA-crypt (`$5$` SHA-256, `$6$` SHA-512, Drepper's
//! specification) and MD5-crypt (`$1$`, Kamp's), over RustCrypto's
//! `sha2` and `md-5` digests. The two compositions are written out here:
//! RustCrypto's `sha-crypt` has no MD5-crypt, and both are a few dozen
//! lines of the specification; the test vectors come from libxcrypt.
//!
//! A check costs what it costs in HAProxy (5000 rounds by default): the
//! data path pays it per request that carries credentials, as HAProxy's
//! does.

use md5::Md5;
use sha2::digest::{Digest, Output};
use sha2::{Sha224, Sha256, Sha384, Sha512};

const B64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Whether `hash` is of a scheme this module computes.
pub fn supported(hash: &str) -> bool {
    hash.starts_with("$1$") || hash.starts_with("$5$") || hash.starts_with("$6$")
}

/// crypt(`pass`, `hash`) == `hash`, compared in constant time.
pub fn verify(pass: &[u8], hash: &str) -> bool {
    let Some(got) = crypt(pass, hash) else {
        return false;
    };
    let (a, b) = (got.as_bytes(), hash.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// crypt(3) with `setting` (a hash or a salt spec) for the schemes here.
pub fn crypt(pass: &[u8], setting: &str) -> Option<String> {
    if let Some(rest) = setting.strip_prefix("$1$") {
        return Some(md5_crypt(pass, rest));
    }
    let (sha512, rest) = if let Some(r) = setting.strip_prefix("$6$") {
        (true, r)
    } else {
        (false, setting.strip_prefix("$5$")?)
    };
    // rounds=<n>$ (clamped to 1000..=999999999), then the salt (16 at most).
    let mut rounds = 5000u32;
    let mut custom = false;
    let mut salt = rest;
    if let Some(r) = rest.strip_prefix("rounds=") {
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        if let (Some(n), Some(after)) = (r.get(..digits), r.get(digits..)) {
            if let (Ok(n), Some(s)) = (n.parse::<u64>(), after.strip_prefix('$')) {
                rounds = u32::try_from(n.clamp(1000, 999_999_999)).unwrap_or(5000);
                custom = true;
                salt = s;
            }
        }
    }
    let salt = salt.split('$').next().unwrap_or_default();
    let salt = salt.get(..salt.len().min(16)).unwrap_or(salt).as_bytes();
    let digest = if sha512 {
        sha_crypt::<Sha512>(pass, salt, rounds).to_vec()
    } else {
        sha_crypt::<Sha256>(pass, salt, rounds).to_vec()
    };
    let mut out = String::from(if sha512 { "$6$" } else { "$5$" });
    if custom {
        out.push_str(&format!("rounds={rounds}$"));
    }
    out.push_str(&String::from_utf8_lossy(salt));
    out.push('$');
    let n = digest.len();
    // The bytes go out in triples taken a third of the digest apart,
    // rotated one way (SHA-256) or the other (SHA-512).
    let third = n / 3;
    for k in 0..third {
        let (a, b, c) = (k, k + third, k + 2 * third);
        let (x, y, z) = match (sha512, k % 3) {
            (_, 0) => (a, b, c),
            (false, 1) => (c, a, b),
            (false, _) => (b, c, a),
            (true, 1) => (b, c, a),
            (true, _) => (c, a, b),
        };
        let at = |i: usize| digest.get(i).copied().unwrap_or(0);
        b64_24(&mut out, at(x), at(y), at(z), 4);
    }
    let at = |i: usize| digest.get(i).copied().unwrap_or(0);
    if sha512 {
        b64_24(&mut out, 0, 0, at(63), 2);
    } else {
        b64_24(&mut out, 0, at(31), at(30), 3);
    }
    Some(out)
}

fn b64_24(out: &mut String, b2: u8, b1: u8, b0: u8, n: usize) {
    let mut w = (u32::from(b2) << 16) | (u32::from(b1) << 8) | u32::from(b0);
    for _ in 0..n {
        out.push(char::from(
            B64.get((w & 0x3f) as usize).copied().unwrap_or(b'.'),
        ));
        w >>= 6;
    }
}

/// The `sha2([<bits>])` converter's digest: SHA-224, -256, -384 or -512.
pub fn sha2(bits: i64, data: &[u8]) -> Option<Vec<u8>> {
    Some(match bits {
        224 => Sha224::digest(data).to_vec(),
        256 => Sha256::digest(data).to_vec(),
        384 => Sha384::digest(data).to_vec(),
        512 => Sha512::digest(data).to_vec(),
        _ => return None,
    })
}

fn hash<D: Digest>(parts: &[&[u8]]) -> Output<D> {
    let mut d = D::new();
    for p in parts {
        d.update(p);
    }
    d.finalize()
}

/// `src` repeated to `len` bytes.
fn stretch(src: &[u8], len: usize) -> Vec<u8> {
    src.iter().copied().cycle().take(len).collect()
}

/// Drepper's SHA-crypt, steps 1 to 21: the final digest.
fn sha_crypt<D: Digest>(p: &[u8], s: &[u8], rounds: u32) -> Output<D> {
    let b = hash::<D>(&[p, s, p]);
    let mut a = D::new();
    a.update(p);
    a.update(s);
    a.update(stretch(&b, p.len()));
    let mut n = p.len();
    while n > 0 {
        if n & 1 == 1 {
            a.update(&b);
        } else {
            a.update(p);
        }
        n >>= 1;
    }
    let mut a = a.finalize();
    let mut dp = D::new();
    for _ in 0..p.len() {
        dp.update(p);
    }
    let pp = stretch(&dp.finalize(), p.len());
    let mut ds = D::new();
    for _ in 0..16 + usize::from(a.first().copied().unwrap_or(0)) {
        ds.update(s);
    }
    let sp = stretch(&ds.finalize(), s.len());
    for i in 0..rounds {
        let mut c = D::new();
        if i & 1 == 1 {
            c.update(&pp);
        } else {
            c.update(&a);
        }
        if i % 3 != 0 {
            c.update(&sp);
        }
        if i % 7 != 0 {
            c.update(&pp);
        }
        if i & 1 == 1 {
            c.update(&a);
        } else {
            c.update(&pp);
        }
        a = c.finalize();
    }
    a
}

/// MD5-crypt: `$1$<salt>$<hash>`, the salt 8 bytes at most.
fn md5_crypt(pw: &[u8], rest: &str) -> String {
    let salt = rest.split('$').next().unwrap_or_default();
    let salt = salt.get(..salt.len().min(8)).unwrap_or(salt).as_bytes();
    let alt = hash::<Md5>(&[pw, salt, pw]);
    let mut ctx = Md5::new();
    ctx.update(pw);
    ctx.update(b"$1$");
    ctx.update(salt);
    ctx.update(stretch(&alt, pw.len()));
    let mut i = pw.len();
    while i > 0 {
        if i & 1 == 1 {
            ctx.update([0]);
        } else {
            ctx.update(pw.get(..1).unwrap_or_default());
        }
        i >>= 1;
    }
    let mut fin = ctx.finalize();
    for i in 0..1000 {
        let mut c = Md5::new();
        if i & 1 == 1 {
            c.update(pw);
        } else {
            c.update(fin);
        }
        if i % 3 != 0 {
            c.update(salt);
        }
        if i % 7 != 0 {
            c.update(pw);
        }
        if i & 1 == 1 {
            c.update(fin);
        } else {
            c.update(pw);
        }
        fin = c.finalize();
    }
    let f = |i: usize| fin.get(i).copied().unwrap_or(0);
    let mut out = format!("$1${}$", String::from_utf8_lossy(salt));
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        b64_24(&mut out, f(a), f(b), f(c), 4);
    }
    b64_24(&mut out, 0, 0, f(11), 2);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(d: &[u8]) -> String {
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn digests_of_known_inputs() {
        assert_eq!(
            hex(&hash::<Sha256>(&[b"abc"])),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&hash::<Sha512>(&[b"abc"])),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
        assert_eq!(
            hex(&hash::<Md5>(&[b""])),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        let long = [b'a'; 200];
        assert_eq!(
            hex(&hash::<Sha256>(&[&long[..70], &long[70..]])),
            hex(&hash::<Sha256>(&[&long[..]])),
            "split updates"
        );
        assert_eq!(
            hex(&hash::<Md5>(&[
                b"The quick brown fox jumps over the lazy dog"
            ])),
            "9e107d9d372bb6826bd81d3542a419d6"
        );
    }

    /// Vectors from libxcrypt (Python's crypt module on Debian 12).
    #[test]
    fn crypt_as_libxcrypt() {
        let long = b"a much longer password of more than sixty-four bytes, to cross a block!!";
        for (pw, setting, want) in [
            (&b"Hello world!"[..], "$5$saltstring", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"),
            (b"Hello world!", "$6$saltstring", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"),
            (b"Hello world!", "$5$rounds=10000$saltstringsaltstring", "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"),
            (b"Hello world!", "$6$rounds=1000$toolongsaltstring_x", "$6$rounds=1000$toolongsaltstrin$sesQxVr.eO8J/1tYcwFWM0XaMVaHFLetz9ssK1oNSPUQgLRm8v3S4i6CgxB9aqGOAFFEMnB2V1gvxEm/Gv2gw/"),
            (b"password", "$1$saltsalt", "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/"),
            (b"", "$1$abc", "$1$abc$Or2rbeUYTvt12aiVzMuS/."),
            (long, "$6$s", "$6$s$S2v2AGtBZv5FMBklKLykYkrVVFhfmSWIi5Q44DbQ1EkeyUeI6Tr3WFGIxRXd2BGO6qYcD7tHNh.0HqDJbaFL11"),
            (long, "$5$s", "$5$s$3ntyGnQuDi8CrxhhgqvMWtvwuCTlJliE/HgJa2KAhu5"),
            (b"a much longer password of more than sixteen bytes", "$1$xy", "$1$xy$SoH7aQ37.uvNLAlzHd7OC/"),
        ] {
            assert_eq!(crypt(pw, setting).as_deref(), Some(want), "{setting}");
            assert!(verify(pw, want));
            assert!(!verify(b"wrong", want));
        }
        assert!(!supported("$y$j9T$x"));
        assert!(!verify(b"x", "$y$j9T$x"));
    }
}

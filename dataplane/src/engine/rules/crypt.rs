//! crypt(3) for the password hashes of `userlist` users, as glibc /
//! libxcrypt compute them (Debian's haproxy checks passwords with
//! crypt_r): SHA-crypt (`$5$` SHA-256, `$6$` SHA-512, Drepper's
//! specification) and MD5-crypt (`$1$`, Kamp's). The digests are here
//! because the crate's dependencies have none (and adding one is outside
//! the rules' area); the test vectors come from libxcrypt.
//!
//! A check costs what it costs in HAProxy (5000 rounds by default): the
//! data path pays it per request that carries credentials, as HAProxy's
//! does.

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
        sha_crypt::<Sha512>(pass, salt, rounds)
    } else {
        sha_crypt::<Sha256>(pass, salt, rounds)
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
        224 => {
            let mut d = Sha256::with_iv([
                0xc1059ed8, 0x367cd507, 0x3070dd17, 0xf70e5939, 0xffc00b31, 0x68581511, 0x64f98fa7,
                0xbefa4fa4,
            ]);
            d.update(data);
            let mut out = d.finish();
            out.truncate(28);
            out
        }
        256 => hash::<Sha256>(&[data]),
        384 => {
            let mut d = Sha512::with_iv([
                0xcbbb9d5dc1059ed8,
                0x629a292a367cd507,
                0x9159015a3070dd17,
                0x152fecd8f70e5939,
                0x67332667ffc00b31,
                0x8eb44a8768581511,
                0xdb0c2e0d64f98fa7,
                0x47b5481dbefa4fa4,
            ]);
            d.update(data);
            let mut out = d.finish();
            out.truncate(48);
            out
        }
        512 => hash::<Sha512>(&[data]),
        _ => return None,
    })
}

/// A hash function as SHA-crypt uses it.
trait Digest: Default {
    const LEN: usize;
    fn update(&mut self, data: &[u8]);
    fn finish(self) -> Vec<u8>;
}

fn hash<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
    let mut d = D::default();
    for p in parts {
        d.update(p);
    }
    d.finish()
}

/// `src` repeated to `len` bytes.
fn stretch(src: &[u8], len: usize) -> Vec<u8> {
    src.iter().copied().cycle().take(len).collect()
}

/// Drepper's SHA-crypt, steps 1 to 21: the final digest.
fn sha_crypt<D: Digest>(p: &[u8], s: &[u8], rounds: u32) -> Vec<u8> {
    let b = hash::<D>(&[p, s, p]);
    let mut a = D::default();
    a.update(p);
    a.update(s);
    a.update(&stretch(&b, p.len()));
    let mut n = p.len();
    while n > 0 {
        if n & 1 == 1 {
            a.update(&b);
        } else {
            a.update(p);
        }
        n >>= 1;
    }
    let mut a = a.finish();
    let mut dp = D::default();
    for _ in 0..p.len() {
        dp.update(p);
    }
    let pp = stretch(&dp.finish(), p.len());
    let mut ds = D::default();
    for _ in 0..16 + usize::from(a.first().copied().unwrap_or(0)) {
        ds.update(s);
    }
    let sp = stretch(&ds.finish(), s.len());
    for i in 0..rounds {
        let mut c = D::default();
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
        a = c.finish();
    }
    debug_assert_eq!(a.len(), D::LEN);
    a
}

/// MD5-crypt: `$1$<salt>$<hash>`, the salt 8 bytes at most.
fn md5_crypt(pw: &[u8], rest: &str) -> String {
    let salt = rest.split('$').next().unwrap_or_default();
    let salt = salt.get(..salt.len().min(8)).unwrap_or(salt).as_bytes();
    let alt = hash::<Md5>(&[pw, salt, pw]);
    let mut ctx = Md5::default();
    ctx.update(pw);
    ctx.update(b"$1$");
    ctx.update(salt);
    ctx.update(&stretch(&alt, pw.len()));
    let mut i = pw.len();
    while i > 0 {
        if i & 1 == 1 {
            ctx.update(&[0]);
        } else {
            ctx.update(pw.get(..1).unwrap_or_default());
        }
        i >>= 1;
    }
    let mut fin = ctx.finish();
    for i in 0..1000 {
        let mut c = Md5::default();
        if i & 1 == 1 {
            c.update(pw);
        } else {
            c.update(&fin);
        }
        if i % 3 != 0 {
            c.update(salt);
        }
        if i % 7 != 0 {
            c.update(pw);
        }
        if i & 1 == 1 {
            c.update(&fin);
        } else {
            c.update(pw);
        }
        fin = c.finish();
    }
    let f = |i: usize| fin.get(i).copied().unwrap_or(0);
    let mut out = format!("$1${}$", String::from_utf8_lossy(salt));
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        b64_24(&mut out, f(a), f(b), f(c), 4);
    }
    b64_24(&mut out, 0, 0, f(11), 2);
    out
}

/// A Merkle–Damgård buffer: whole blocks go to `compress` as they fill.
#[derive(Clone)]
struct Blocks<const N: usize> {
    buf: [u8; N],
    used: usize,
    total: u128,
}

impl<const N: usize> Default for Blocks<N> {
    fn default() -> Self {
        Blocks {
            buf: [0; N],
            used: 0,
            total: 0,
        }
    }
}

impl<const N: usize> Blocks<N> {
    fn update(&mut self, mut data: &[u8], mut compress: impl FnMut(&[u8; N])) {
        self.total += data.len() as u128;
        while !data.is_empty() {
            let take = (N - self.used).min(data.len());
            let (head, rest) = data.split_at(take);
            if let Some(dst) = self.buf.get_mut(self.used..self.used + take) {
                dst.copy_from_slice(head);
            }
            self.used += take;
            data = rest;
            if self.used == N {
                compress(&self.buf);
                self.used = 0;
            }
        }
    }

    /// The padding: 0x80, zeros, the bit length in `len_bytes` bytes
    /// (big-endian, or little-endian for MD5).
    fn pad(&mut self, len_bytes: usize, big_endian: bool, mut compress: impl FnMut(&[u8; N])) {
        let bits = self.total.wrapping_mul(8);
        let mut tail = vec![0x80u8];
        let fill = (N + N - len_bytes - 1 - self.used % N) % N;
        tail.extend(std::iter::repeat_n(0, fill));
        let be = bits.to_be_bytes();
        let le = bits.to_le_bytes();
        if big_endian {
            tail.extend_from_slice(be.get(16 - len_bytes..).unwrap_or_default());
        } else {
            tail.extend_from_slice(le.get(..len_bytes).unwrap_or_default());
        }
        let total = self.total;
        self.update(&tail, &mut compress);
        self.total = total;
        debug_assert_eq!(self.used, 0);
    }
}

const K256: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

#[derive(Clone)]
struct Sha256 {
    h: [u32; 8],
    blocks: Blocks<64>,
}

impl Default for Sha256 {
    fn default() -> Self {
        Sha256 {
            h: [
                0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
                0x5be0cd19,
            ],
            blocks: Blocks::default(),
        }
    }
}

impl Sha256 {
    fn with_iv(h: [u32; 8]) -> Sha256 {
        Sha256 {
            h,
            blocks: Blocks::default(),
        }
    }
}

// The message schedule's indexes are bounded by the loops over the
// fixed-size arrays (16..64, 16..80, 0..64): no index can fail.
#[allow(clippy::indexing_slicing)]
fn sha256_compress(h: &mut [u32; 8], block: &[u8; 64]) {
    let mut w = [0u32; 64];
    for (i, c) in block.chunks_exact(4).enumerate() {
        if let (Some(slot), Ok(b)) = (w.get_mut(i), <[u8; 4]>::try_from(c)) {
            *slot = u32::from_be_bytes(b);
        }
    }
    for i in 16..64 {
        let (w15, w2) = (w[i - 15], w[i - 2]);
        let s0 = w15.rotate_right(7) ^ w15.rotate_right(18) ^ (w15 >> 3);
        let s1 = w2.rotate_right(17) ^ w2.rotate_right(19) ^ (w2 >> 10);
        w[i] = w[i - 16]
            .wrapping_add(s0)
            .wrapping_add(w[i - 7])
            .wrapping_add(s1);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = *h;
    for (k, wi) in K256.iter().zip(w.iter()) {
        let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
        let ch = (e & f) ^ (!e & g);
        let t1 = hh
            .wrapping_add(s1)
            .wrapping_add(ch)
            .wrapping_add(*k)
            .wrapping_add(*wi);
        let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
        let maj = (a & b) ^ (a & c) ^ (b & c);
        let t2 = s0.wrapping_add(maj);
        (hh, g, f, e, d, c, b, a) = (g, f, e, d.wrapping_add(t1), c, b, a, t1.wrapping_add(t2));
    }
    for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
        *x = x.wrapping_add(y);
    }
}

impl Digest for Sha256 {
    const LEN: usize = 32;
    fn update(&mut self, data: &[u8]) {
        let h = &mut self.h;
        self.blocks.update(data, |b| sha256_compress(h, b));
    }
    fn finish(mut self) -> Vec<u8> {
        let h = &mut self.h;
        self.blocks.pad(8, true, |b| sha256_compress(h, b));
        self.h.iter().flat_map(|x| x.to_be_bytes()).collect()
    }
}

const K512: [u64; 80] = [
    0x428a2f98d728ae22,
    0x7137449123ef65cd,
    0xb5c0fbcfec4d3b2f,
    0xe9b5dba58189dbbc,
    0x3956c25bf348b538,
    0x59f111f1b605d019,
    0x923f82a4af194f9b,
    0xab1c5ed5da6d8118,
    0xd807aa98a3030242,
    0x12835b0145706fbe,
    0x243185be4ee4b28c,
    0x550c7dc3d5ffb4e2,
    0x72be5d74f27b896f,
    0x80deb1fe3b1696b1,
    0x9bdc06a725c71235,
    0xc19bf174cf692694,
    0xe49b69c19ef14ad2,
    0xefbe4786384f25e3,
    0x0fc19dc68b8cd5b5,
    0x240ca1cc77ac9c65,
    0x2de92c6f592b0275,
    0x4a7484aa6ea6e483,
    0x5cb0a9dcbd41fbd4,
    0x76f988da831153b5,
    0x983e5152ee66dfab,
    0xa831c66d2db43210,
    0xb00327c898fb213f,
    0xbf597fc7beef0ee4,
    0xc6e00bf33da88fc2,
    0xd5a79147930aa725,
    0x06ca6351e003826f,
    0x142929670a0e6e70,
    0x27b70a8546d22ffc,
    0x2e1b21385c26c926,
    0x4d2c6dfc5ac42aed,
    0x53380d139d95b3df,
    0x650a73548baf63de,
    0x766a0abb3c77b2a8,
    0x81c2c92e47edaee6,
    0x92722c851482353b,
    0xa2bfe8a14cf10364,
    0xa81a664bbc423001,
    0xc24b8b70d0f89791,
    0xc76c51a30654be30,
    0xd192e819d6ef5218,
    0xd69906245565a910,
    0xf40e35855771202a,
    0x106aa07032bbd1b8,
    0x19a4c116b8d2d0c8,
    0x1e376c085141ab53,
    0x2748774cdf8eeb99,
    0x34b0bcb5e19b48a8,
    0x391c0cb3c5c95a63,
    0x4ed8aa4ae3418acb,
    0x5b9cca4f7763e373,
    0x682e6ff3d6b2b8a3,
    0x748f82ee5defb2fc,
    0x78a5636f43172f60,
    0x84c87814a1f0ab72,
    0x8cc702081a6439ec,
    0x90befffa23631e28,
    0xa4506cebde82bde9,
    0xbef9a3f7b2c67915,
    0xc67178f2e372532b,
    0xca273eceea26619c,
    0xd186b8c721c0c207,
    0xeada7dd6cde0eb1e,
    0xf57d4f7fee6ed178,
    0x06f067aa72176fba,
    0x0a637dc5a2c898a6,
    0x113f9804bef90dae,
    0x1b710b35131c471b,
    0x28db77f523047d84,
    0x32caab7b40c72493,
    0x3c9ebe0a15c9bebc,
    0x431d67c49c100d4c,
    0x4cc5d4becb3e42b6,
    0x597f299cfc657e2a,
    0x5fcb6fab3ad6faec,
    0x6c44198c4a475817,
];

#[derive(Clone)]
struct Sha512 {
    h: [u64; 8],
    blocks: Blocks<128>,
}

impl Default for Sha512 {
    fn default() -> Self {
        Sha512 {
            h: [
                0x6a09e667f3bcc908,
                0xbb67ae8584caa73b,
                0x3c6ef372fe94f82b,
                0xa54ff53a5f1d36f1,
                0x510e527fade682d1,
                0x9b05688c2b3e6c1f,
                0x1f83d9abfb41bd6b,
                0x5be0cd19137e2179,
            ],
            blocks: Blocks::default(),
        }
    }
}

impl Sha512 {
    fn with_iv(h: [u64; 8]) -> Sha512 {
        Sha512 {
            h,
            blocks: Blocks::default(),
        }
    }
}

// The message schedule's indexes are bounded by the loops over the
// fixed-size arrays (16..64, 16..80, 0..64): no index can fail.
#[allow(clippy::indexing_slicing)]
fn sha512_compress(h: &mut [u64; 8], block: &[u8; 128]) {
    let mut w = [0u64; 80];
    for (i, c) in block.chunks_exact(8).enumerate() {
        if let (Some(slot), Ok(b)) = (w.get_mut(i), <[u8; 8]>::try_from(c)) {
            *slot = u64::from_be_bytes(b);
        }
    }
    for i in 16..80 {
        let (w15, w2) = (w[i - 15], w[i - 2]);
        let s0 = w15.rotate_right(1) ^ w15.rotate_right(8) ^ (w15 >> 7);
        let s1 = w2.rotate_right(19) ^ w2.rotate_right(61) ^ (w2 >> 6);
        w[i] = w[i - 16]
            .wrapping_add(s0)
            .wrapping_add(w[i - 7])
            .wrapping_add(s1);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = *h;
    for (k, wi) in K512.iter().zip(w.iter()) {
        let s1 = e.rotate_right(14) ^ e.rotate_right(18) ^ e.rotate_right(41);
        let ch = (e & f) ^ (!e & g);
        let t1 = hh
            .wrapping_add(s1)
            .wrapping_add(ch)
            .wrapping_add(*k)
            .wrapping_add(*wi);
        let s0 = a.rotate_right(28) ^ a.rotate_right(34) ^ a.rotate_right(39);
        let maj = (a & b) ^ (a & c) ^ (b & c);
        let t2 = s0.wrapping_add(maj);
        (hh, g, f, e, d, c, b, a) = (g, f, e, d.wrapping_add(t1), c, b, a, t1.wrapping_add(t2));
    }
    for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
        *x = x.wrapping_add(y);
    }
}

impl Digest for Sha512 {
    const LEN: usize = 64;
    fn update(&mut self, data: &[u8]) {
        let h = &mut self.h;
        self.blocks.update(data, |b| sha512_compress(h, b));
    }
    fn finish(mut self) -> Vec<u8> {
        let h = &mut self.h;
        self.blocks.pad(16, true, |b| sha512_compress(h, b));
        self.h.iter().flat_map(|x| x.to_be_bytes()).collect()
    }
}

#[derive(Clone)]
struct Md5 {
    h: [u32; 4],
    blocks: Blocks<64>,
}

impl Default for Md5 {
    fn default() -> Self {
        Md5 {
            h: [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476],
            blocks: Blocks::default(),
        }
    }
}

const MD5_S: [u32; 64] = [
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9,
    14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15,
    21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
];

const MD5_K: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];

// The message schedule's indexes are bounded by the loops over the
// fixed-size arrays (16..64, 16..80, 0..64): no index can fail.
#[allow(clippy::indexing_slicing)]
fn md5_compress(h: &mut [u32; 4], block: &[u8; 64]) {
    let mut m = [0u32; 16];
    for (i, c) in block.chunks_exact(4).enumerate() {
        if let (Some(slot), Ok(b)) = (m.get_mut(i), <[u8; 4]>::try_from(c)) {
            *slot = u32::from_le_bytes(b);
        }
    }
    let [mut a, mut b, mut c, mut d] = *h;
    for i in 0..64 {
        let (f, g) = match i / 16 {
            0 => ((b & c) | (!b & d), i),
            1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
            2 => (b ^ c ^ d, (3 * i + 5) % 16),
            _ => (c ^ (b | !d), (7 * i) % 16),
        };
        let f = f.wrapping_add(a).wrapping_add(MD5_K[i]).wrapping_add(m[g]);
        a = d;
        d = c;
        c = b;
        b = b.wrapping_add(f.rotate_left(MD5_S[i]));
    }
    for (x, y) in h.iter_mut().zip([a, b, c, d]) {
        *x = x.wrapping_add(y);
    }
}

impl Digest for Md5 {
    const LEN: usize = 16;
    fn update(&mut self, data: &[u8]) {
        let h = &mut self.h;
        self.blocks.update(data, |b| md5_compress(h, b));
    }
    fn finish(mut self) -> Vec<u8> {
        let h = &mut self.h;
        self.blocks.pad(8, false, |b| md5_compress(h, b));
        self.h.iter().flat_map(|x| x.to_le_bytes()).collect()
    }
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

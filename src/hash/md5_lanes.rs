//! MD5 of several independent messages at once, one message per `u32` lane.
//!
//! MD5 is one long dependency chain: a single message cannot go faster than about five
//! cycles a byte, whatever the library. Several messages can: [`compress`] runs the 64 steps
//! on `[u32; L]` arrays, one element per message, and LLVM turns each step into SIMD
//! instructions on the x86_64 baseline (SSE2, four lanes a register) without any unsafe code
//! or runtime dispatch. Sixteen lanes (four registers a word) is the fastest width measured;
//! a single message uses [`compress_one`] (md5-asm on x86/x86_64, this kernel with one lane
//! elsewhere).
//!
//! The padding and the digest are [`finish`]: the caller keeps each message's state and
//! length, which lets a message leave the lanes mid-way and end in [`compress_one`]. The
//! caller of these functions is [`super::lanes`].

/// The number of messages [`compress`] is used with.
pub const LANES: usize = 16;

/// MD5's initial state.
pub const INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// The 64 additive constants, `floor(abs(sin(i + 1)) * 2^32)`.
#[rustfmt::skip]
const K: [u32; 64] = [
    0xd76a_a478, 0xe8c7_b756, 0x2420_70db, 0xc1bd_ceee, 0xf57c_0faf, 0x4787_c62a, 0xa830_4613,
    0xfd46_9501, 0x6980_98d8, 0x8b44_f7af, 0xffff_5bb1, 0x895c_d7be, 0x6b90_1122, 0xfd98_7193,
    0xa679_438e, 0x49b4_0821, 0xf61e_2562, 0xc040_b340, 0x265e_5a51, 0xe9b6_c7aa, 0xd62f_105d,
    0x0244_1453, 0xd8a1_e681, 0xe7d3_fbc8, 0x21e1_cde6, 0xc337_07d6, 0xf4d5_0d87, 0x455a_14ed,
    0xa9e3_e905, 0xfcef_a3f8, 0x676f_02d9, 0x8d2a_4c8a, 0xfffa_3942, 0x8771_f681, 0x6d9d_6122,
    0xfde5_380c, 0xa4be_ea44, 0x4bde_cfa9, 0xf6bb_4b60, 0xbebf_bc70, 0x289b_7ec6, 0xeaa1_27fa,
    0xd4ef_3085, 0x0488_1d05, 0xd9d4_d039, 0xe6db_99e5, 0x1fa2_7cf8, 0xc4ac_5665, 0xf429_2244,
    0x432a_ff97, 0xab94_23a7, 0xfc93_a039, 0x655b_59c3, 0x8f0c_cc92, 0xffef_f47d, 0x8584_5dd1,
    0x6fa8_7e4f, 0xfe2c_e6e0, 0xa301_4314, 0x4e08_11a1, 0xf753_7e82, 0xbd3a_f235, 0x2ad7_d2bb,
    0xeb86_d391,
];

/// The states of `L` messages: `state[w][l]` is word `w` (a, b, c, d) of message `l`.
pub type LaneState<const L: usize> = [[u32; L]; 4];

/// `L` copies of [`INIT`].
pub fn init<const L: usize>() -> LaneState<L> {
    INIT.map(|w| [w; L])
}

/// The state of message `l`.
pub fn lane<const L: usize>(state: &LaneState<L>, l: usize) -> [u32; 4] {
    [state[0][l], state[1][l], state[2][l], state[3][l]]
}

/// Sets the state of message `l`.
pub fn set_lane<const L: usize>(state: &mut LaneState<L>, l: usize, s: [u32; 4]) {
    for (w, v) in state.iter_mut().zip(s) {
        w[l] = v;
    }
}

#[inline(always)]
fn f(x: u32, y: u32, z: u32) -> u32 {
    z ^ (x & (y ^ z))
}
#[inline(always)]
fn g(x: u32, y: u32, z: u32) -> u32 {
    y ^ (z & (x ^ y))
}
#[inline(always)]
fn h(x: u32, y: u32, z: u32) -> u32 {
    x ^ y ^ z
}
#[inline(always)]
fn i(x: u32, y: u32, z: u32) -> u32 {
    y ^ (x | !z)
}

/// Word `g` of block `j` of every lane, into `m[g][l]`. Out of line: the kernel then reads
/// each word of its lanes from consecutive memory, as vectors.
#[inline(never)]
fn transpose<const L: usize>(m: &mut [[u32; L]; 16], data: &[&[u8]; L], j: usize) {
    for (l, lane) in data.iter().enumerate() {
        let block: &[u8; 64] = lane[j * 64..j * 64 + 64].try_into().expect("64 bytes");
        for (w, word) in block.chunks_exact(4).enumerate() {
            m[w][l] = u32::from_le_bytes(word.try_into().expect("4 bytes"));
        }
    }
}

/// Runs `blocks` 64-byte blocks of each lane's message through the compression function:
/// lane `l` reads `data[l][..blocks * 64]`.
///
/// Each step is one loop over the lanes, which LLVM's SLP vectorizer turns into SSE2
/// instructions only if the step's expression tree is small: after each step the state goes
/// through [`std::hint::black_box`], which keeps it in memory (one vector store, a few vector
/// loads a step). Without that barrier LLVM chains all 64 steps in scalar registers and the
/// kernel is no faster than four scalar MD5s (measured: 8 lanes 0.55 GB/s without, 1.0 with).
///
/// # Panics
///
/// If a lane holds fewer than `blocks * 64` bytes.
#[inline(never)]
pub fn compress<const L: usize>(state: &mut LaneState<L>, data: [&[u8]; L], blocks: usize) {
    let data = data.map(|d| &d[..blocks * 64]);
    let mut st = *state;
    let mut m = [[0u32; L]; 16];
    for j in 0..blocks {
        transpose(&mut m, &data, j);
        let saved = st;
        // `st[a] = st[b] + ((st[a] + f(st[b], st[c], st[d]) + K[k] + m[g]) <<< s)`, every lane.
        macro_rules! step {
            ($f:ident, $a:literal, $b:literal, $c:literal, $d:literal, $k:expr, $g:literal, $s:literal) => {
                let [a, b, c, d] = [st[$a], st[$b], st[$c], st[$d]];
                let mut out = [0u32; L];
                for l in 0..L {
                    out[l] = b[l].wrapping_add(
                        a[l].wrapping_add($f(b[l], c[l], d[l]))
                            .wrapping_add(K[$k].wrapping_add(m[$g][l]))
                            .rotate_left($s),
                    );
                }
                st[$a] = out;
                std::hint::black_box(&mut st);
            };
        }
        // Four steps: message words g0..g3, shifts s0..s3 (the round's).
        macro_rules! four {
            ($f:ident, $k:literal, $g0:literal $g1:literal $g2:literal $g3:literal, $s0:literal $s1:literal $s2:literal $s3:literal) => {
                step!($f, 0, 1, 2, 3, $k, $g0, $s0);
                step!($f, 3, 0, 1, 2, $k + 1, $g1, $s1);
                step!($f, 2, 3, 0, 1, $k + 2, $g2, $s2);
                step!($f, 1, 2, 3, 0, $k + 3, $g3, $s3);
            };
        }
        four!(f, 0, 0 1 2 3, 7 12 17 22);
        four!(f, 4, 4 5 6 7, 7 12 17 22);
        four!(f, 8, 8 9 10 11, 7 12 17 22);
        four!(f, 12, 12 13 14 15, 7 12 17 22);
        four!(g, 16, 1 6 11 0, 5 9 14 20);
        four!(g, 20, 5 10 15 4, 5 9 14 20);
        four!(g, 24, 9 14 3 8, 5 9 14 20);
        four!(g, 28, 13 2 7 12, 5 9 14 20);
        four!(h, 32, 5 8 11 14, 4 11 16 23);
        four!(h, 36, 1 4 7 10, 4 11 16 23);
        four!(h, 40, 13 0 3 6, 4 11 16 23);
        four!(h, 44, 9 12 15 2, 4 11 16 23);
        four!(i, 48, 0 7 14 5, 6 10 15 21);
        four!(i, 52, 12 3 10 1, 6 10 15 21);
        four!(i, 56, 8 15 6 13, 6 10 15 21);
        four!(i, 60, 4 11 2 9, 6 10 15 21);
        for (w, old) in st.iter_mut().zip(saved) {
            for l in 0..L {
                w[l] = w[l].wrapping_add(old[l]);
            }
        }
    }
    *state = st;
}

/// Runs the whole 64-byte blocks of `data` (a multiple of 64 bytes) through one message's
/// compression function.
pub fn compress_one(state: &mut [u32; 4], data: &[u8]) {
    let (blocks, rest) = data.as_chunks::<64>();
    assert!(rest.is_empty(), "whole blocks only");
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    md5_asm::compress(state, blocks);
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    {
        let mut s = [[state[0]], [state[1]], [state[2]], [state[3]]];
        compress::<1>(&mut s, [data], blocks.len());
        *state = lane(&s, 0);
    }
}

/// The digest of a message whose whole blocks are in `state` and whose last `tail` bytes
/// (fewer than 64) follow them; `len` is the message's length in bytes.
pub fn finish(mut state: [u32; 4], tail: &[u8], len: u64) -> [u8; 16] {
    assert!(tail.len() < 64, "the tail is less than a block");
    let mut last = [0u8; 128];
    last[..tail.len()].copy_from_slice(tail);
    last[tail.len()] = 0x80;
    let end = if tail.len() < 56 { 64 } else { 128 };
    last[end - 8..end].copy_from_slice(&len.wrapping_mul(8).to_le_bytes());
    compress_one(&mut state, &last[..end]);
    let mut out = [0u8; 16];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5::{Digest, Md5};

    use super::super::noise as bytes;

    fn md5(data: &[u8]) -> [u8; 16] {
        Md5::digest(data).into()
    }

    /// The MD5 of each message, all hashed side by side in `L` lanes: the lanes run as long as
    /// the shortest message has whole blocks, then each message ends alone.
    fn in_lanes<const L: usize>(msgs: &[Vec<u8>; L]) -> [[u8; 16]; L] {
        let mut st = init::<L>();
        let n = msgs.iter().map(|m| m.len() / 64).min().unwrap();
        compress(&mut st, std::array::from_fn(|l| &msgs[l][..]), n);
        std::array::from_fn(|l| {
            let mut s = lane(&st, l);
            let rest = &msgs[l][n * 64..];
            let whole = rest.len() / 64 * 64;
            compress_one(&mut s, &rest[..whole]);
            finish(s, &rest[whole..], msgs[l].len() as u64)
        })
    }

    #[test]
    fn the_well_known_digests() {
        let hex = |d: [u8; 16]| crate::hash::hex(&d);
        assert_eq!(
            hex(finish(INIT, b"", 0)),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        assert_eq!(
            hex(finish(INIT, b"abc", 3)),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        let fox = b"The quick brown fox jumps over the lazy dog";
        let [d] = in_lanes(&[fox.to_vec()]);
        assert_eq!(hex(d), "9e107d9d372bb6826bd81d3542a419d6");
    }

    #[test]
    fn lanes_of_every_awkward_length_equal_md5() {
        let lens = [
            0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4096,
        ];
        for (i, &len) in lens.iter().enumerate() {
            // Messages of different lengths around `len`, so that lanes end apart.
            let msgs: [Vec<u8>; LANES] =
                std::array::from_fn(|l| bytes((i * 16 + l) as u64, len + l * 67 * (i % 3)));
            let got = in_lanes(&msgs);
            for l in 0..LANES {
                assert_eq!(got[l], md5(&msgs[l]), "length {} lane {l}", msgs[l].len());
            }
            // The same with other widths: one lane (the portable scalar) and eight.
            let one: [Vec<u8>; 1] = [msgs[3].clone()];
            assert_eq!(in_lanes(&one)[0], md5(&msgs[3]));
            let eight: [Vec<u8>; 8] = std::array::from_fn(|l| msgs[2 * l + 1].clone());
            for (l, d) in in_lanes(&eight).iter().enumerate() {
                assert_eq!(*d, md5(&eight[l]), "eight lanes, lane {l}");
            }
        }
    }

    #[test]
    fn random_messages_of_up_to_a_few_megabytes() {
        let mut lens = bytes(99, LANES)
            .into_iter()
            .map(|b| b as usize * 12_345 + b as usize % 64);
        let msgs: [Vec<u8>; LANES] =
            std::array::from_fn(|l| bytes(1000 + l as u64, lens.next().unwrap()));
        assert!(msgs.iter().any(|m| m.len() > 1 << 20));
        let got = in_lanes(&msgs);
        for l in 0..LANES {
            assert_eq!(got[l], md5(&msgs[l]), "lane {l}, {} bytes", msgs[l].len());
        }
    }

    #[test]
    fn a_lane_refilled_mid_run_starts_from_its_own_state() {
        // Lane 2 ends after 3 blocks and takes a new message; the others go on.
        let a: [Vec<u8>; 2] = [bytes(1, 64 * 10 + 7), bytes(2, 64 * 3)];
        let b = bytes(3, 64 * 5 + 60);
        let mut st = init::<2>();
        compress(&mut st, [&a[0][..], &a[1][..]], 3);
        let done = finish(lane(&st, 1), b"", 64 * 3);
        assert_eq!(done, md5(&a[1]));
        set_lane(&mut st, 1, INIT);
        compress(&mut st, [&a[0][3 * 64..], &b[..]], 5);
        assert_eq!(finish(lane(&st, 1), &b[5 * 64..], b.len() as u64), md5(&b));
        let mut s0 = lane(&st, 0);
        compress_one(&mut s0, &a[0][8 * 64..10 * 64]);
        assert_eq!(finish(s0, &a[0][640..], a[0].len() as u64), md5(&a[0]));
    }

    /// `cargo test --release --lib md5_lanes_speed -- --ignored --nocapture`: GB/s of the lane
    /// kernel (four, eight and sixteen lanes) against md5-asm on one message.
    #[test]
    #[ignore = "a measurement, run by hand in release mode"]
    fn md5_lanes_speed() {
        let data = bytes(7, 64 << 10);
        let rounds = 2000;
        let time = |what: &str, bytes: usize, f: &mut dyn FnMut()| {
            let t = std::time::Instant::now();
            f();
            let s = t.elapsed().as_secs_f64();
            println!("{what}: {:.2} GB/s", (bytes * rounds) as f64 / s / 1e9);
        };
        let mut st8 = init::<8>();
        time("8 lanes", data.len() * 8, &mut || {
            for _ in 0..rounds {
                compress(&mut st8, [&data[..]; 8], data.len() / 64);
            }
        });
        let mut st16 = init::<16>();
        time("16 lanes", data.len() * 16, &mut || {
            for _ in 0..rounds {
                compress(&mut st16, [&data[..]; 16], data.len() / 64);
            }
        });
        let mut st4 = init::<4>();
        time("4 lanes", data.len() * 4, &mut || {
            for _ in 0..rounds {
                compress(&mut st4, [&data[..]; 4], data.len() / 64);
            }
        });
        let mut s = INIT;
        time("md5-asm, one message", data.len(), &mut || {
            for _ in 0..rounds {
                compress_one(&mut s, &data);
            }
        });
        let mut s1 = init::<1>();
        time("1 lane (portable scalar)", data.len(), &mut || {
            for _ in 0..rounds {
                compress(&mut s1, [&data[..]], data.len() / 64);
            }
        });
        println!(
            "{:?} {:?} {:?} {s:?} {:?}",
            st8[0][0], st16[0][0], st4[0][0], s1[0][0]
        );
    }
}

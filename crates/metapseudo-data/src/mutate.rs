//! Seeded mutations of a valid input, for the robustness (fuzz) tests of every reader: bit
//! flips, interesting values, insertions, deletions, truncation and duplicated ranges, the
//! faults a damaged disk, a bad download or a hostile user produce.

use crate::rng::Rng;

/// Byte values that often reach edge cases.
const BYTES: [u8; 6] = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE];
/// 32-bit values that often reach edge cases (sizes, counts, lengths).
const WORDS: [u32; 7] = [
    0,
    1,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFF,
    65536,
    0x0100_0000,
];

/// A mutant of `input`: one to four seeded mutations applied in turn.
pub fn mutant(input: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        mutate_once(&mut out, rng);
    }
    out
}

fn mutate_once(b: &mut Vec<u8>, rng: &mut Rng) {
    if b.is_empty() {
        b.push(BYTES[rng.below(BYTES.len())]);
        return;
    }
    let at = rng.below(b.len());
    match rng.below(7) {
        0 => b[at] ^= 1 << rng.below(8),
        1 => b[at] = BYTES[rng.below(BYTES.len())],
        2 => {
            let w = WORDS[rng.below(WORDS.len())];
            let bytes = if rng.bernoulli(0.5) {
                w.to_be_bytes()
            } else {
                w.to_le_bytes()
            };
            for (k, v) in bytes.iter().enumerate() {
                if let Some(x) = b.get_mut(at + k) {
                    *x = *v;
                }
            }
        }
        3 => {
            let n = 1 + rng.below(16);
            let junk: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            b.splice(at..at, junk);
        }
        4 => {
            let end = (at + 1 + rng.below(64)).min(b.len());
            b.drain(at..end);
        }
        5 => b.truncate(at),
        _ => {
            let end = (at + 1 + rng.below(64)).min(b.len());
            let copy = b[at..end].to_vec();
            let to = rng.below(b.len());
            b.splice(to..to, copy);
        }
    }
}

/// Feeds `n` seeded mutants of `seeds` (taken in turn; the stream is named `stream`) to `read`,
/// which says whether it accepted the mutant (`false`: refused with an error). Returns how many
/// were refused, or the number and bytes of the first mutant whose reading panicked.
pub fn try_mutants(
    stream: &str,
    seeds: &[Vec<u8>],
    n: usize,
    read: impl Fn(&[u8]) -> bool,
) -> std::result::Result<usize, (usize, Vec<u8>)> {
    let mut rng = Rng::stream(1, stream);
    let mut refused = 0;
    for i in 0..n {
        let m = mutant(&seeds[i % seeds.len()], &mut rng);
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read(&m))) {
            Ok(accepted) => refused += usize::from(!accepted),
            Err(_) => return Err((i, m)),
        }
    }
    Ok(refused)
}

/// [`try_mutants`] for a test: prints the count refused, and on a panic keeps the mutant in
/// `keep_in` and fails, naming `stream` and the mutant's number. Returns the count refused.
pub fn fuzz(
    stream: &str,
    seeds: &[Vec<u8>],
    n: usize,
    keep_in: &std::path::Path,
    read: impl Fn(&[u8]) -> bool,
) -> usize {
    match try_mutants(stream, seeds, n, read) {
        Ok(refused) => {
            eprintln!("{stream}: {n} mutants, {refused} refused with an error, no panic");
            refused
        }
        Err((i, m)) => {
            let keep = keep_in.join(format!("panic-{i}-{stream}"));
            let _ = std::fs::write(&keep, &m);
            panic!("{stream}: mutant {i} panicked (kept in {})", keep.display());
        }
    }
}

/// How many mutants per format a robustness test tries: `METAPSEUDO_FUZZ_MUTANTS`, else
/// `default` (the bounded run of the test suite; a soak sets thousands).
pub fn mutants_per_format(default: usize) -> usize {
    std::env::var("METAPSEUDO_FUZZ_MUTANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutants_are_seeded_and_differ_from_the_input() {
        let input: Vec<u8> = (0..100).collect();
        let a: Vec<Vec<u8>> = (0..50).map(|i| mutant(&input, &mut Rng::new(i))).collect();
        let b: Vec<Vec<u8>> = (0..50).map(|i| mutant(&input, &mut Rng::new(i))).collect();
        assert_eq!(a, b);
        assert!(a.iter().filter(|m| **m != input).count() >= 45);
        assert!(a.iter().any(|m| m.len() < input.len()) && a.iter().any(|m| m.len() > input.len()));
    }
}

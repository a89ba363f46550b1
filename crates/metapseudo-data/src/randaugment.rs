//! RandAugment as in the Meta Pseudo Labels code (Google's `augment.py`): the 14 operations,
//! `n` of them drawn uniformly per image, each applied with one per-image probability drawn
//! from U(0.2, 0.8), at the shared magnitude `m` on a 0..10 level scale (`m` may exceed 10, as
//! the MPL CIFAR recipe's 16 does: the ranges then extend past their nominal ends).

use crate::colorops;
use crate::error::{DataError, Result};
use crate::imageops::{Affine, Image, warp};
use crate::rng::Rng;

/// Grey level that fills pixels uncovered by a geometric op (the reference's `replace`), the
/// default of `fill` wherever one is taken.
pub const FILL: u8 = 128;

/// One augmentation operation with its resolved argument.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// Per-channel contrast stretch.
    AutoContrast,
    /// Per-channel histogram equalisation.
    Equalize,
    /// `255 - v`.
    Invert,
    /// Rotation by this many degrees (counter-clockwise when positive).
    Rotate(f32),
    /// Keep this many bits.
    Posterize(u8),
    /// Invert values at or above this threshold.
    Solarize(u16),
    /// Saturation factor.
    Color(f32),
    /// Contrast factor.
    Contrast(f32),
    /// Brightness factor.
    Brightness(f32),
    /// Sharpness factor.
    Sharpness(f32),
    /// Horizontal shear.
    ShearX(f32),
    /// Vertical shear.
    ShearY(f32),
    /// Horizontal shift in pixels.
    TranslateX(f32),
    /// Vertical shift in pixels.
    TranslateY(f32),
}

impl Op {
    /// Applies the operation in place; geometric operations fill uncovered pixels with `fill`.
    pub fn apply(self, img: &mut Image, fill: u8) {
        let geometric = |img: &mut Image, map: Affine| *img = warp(img, map, fill);
        match self {
            Op::AutoContrast => colorops::autocontrast(img),
            Op::Equalize => colorops::equalize(img),
            Op::Invert => colorops::invert(img),
            Op::Rotate(deg) => geometric(img, Affine::rotate(deg, img.height, img.width)),
            Op::Posterize(bits) => colorops::posterize(img, bits),
            Op::Solarize(t) => colorops::solarize(img, t),
            Op::Color(f) => colorops::color(img, f),
            Op::Contrast(f) => colorops::contrast(img, f),
            Op::Brightness(f) => colorops::brightness(img, f),
            Op::Sharpness(f) => colorops::sharpness(img, f),
            Op::ShearX(l) => geometric(img, Affine::shear_x(l)),
            Op::ShearY(l) => geometric(img, Affine::shear_y(l)),
            Op::TranslateX(px) => geometric(img, Affine::translate(px, 0.0)),
            Op::TranslateY(px) => geometric(img, Affine::translate(0.0, px)),
        }
    }
}

/// The operation names, in the reference's order.
pub const OPS: [&str; 14] = [
    "AutoContrast",
    "Equalize",
    "Invert",
    "Rotate",
    "Posterize",
    "Solarize",
    "Color",
    "Contrast",
    "Brightness",
    "Sharpness",
    "ShearX",
    "ShearY",
    "TranslateX",
    "TranslateY",
];

/// The operations RandAugment draws from: a subset of [`OPS`], kept in their order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpSet(u16);

impl OpSet {
    /// All 14 operations (the MPL reference).
    pub const ALL: Self = Self((1 << OPS.len()) - 1);

    /// The set of the named operations; an unknown name or an empty list is an error that
    /// lists the valid names.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Self> {
        let mut bits = 0u16;
        for name in names {
            let name = name.as_ref();
            let index = OPS.iter().position(|op| *op == name).ok_or_else(|| {
                DataError::Invalid(format!(
                    "unknown RandAugment operation '{name}'; valid operations: {}",
                    OPS.join(", ")
                ))
            })?;
            bits |= 1 << index;
        }
        if bits == 0 {
            return Err(DataError::Invalid(format!(
                "RandAugment needs at least one operation; valid operations: {}",
                OPS.join(", ")
            )));
        }
        Ok(Self(bits))
    }

    /// Number of operations in the set.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether the set is empty (never, for a set built by [`OpSet::from_names`]).
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether `OPS[index]` is in the set.
    pub fn contains(self, index: usize) -> bool {
        self.0 & (1 << index) != 0
    }

    /// The index into [`OPS`] of the set's `k`-th operation (in `OPS` order).
    pub fn nth(self, k: usize) -> usize {
        (0..OPS.len())
            .filter(|&i| self.contains(i))
            .nth(k)
            .expect("k is below the set's length")
    }
}

/// `value` with a random sign (the reference's `_randomly_negate_tensor`).
pub(crate) fn random_sign(value: f32, rng: &mut Rng) -> f32 {
    if rng.bernoulli(0.5) { value } else { -value }
}

/// RandAugment's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandAugment {
    /// Operations per image (`N`).
    pub num_ops: usize,
    /// Magnitude on the 0..10 level scale (`M`).
    pub magnitude: f32,
    /// Pixels of translation at level 10 (the reference uses image size / 8 for CIFAR).
    pub translate_const: f32,
    /// The operations drawn from (all 14 in the reference).
    pub ops: OpSet,
    /// Grey level of pixels uncovered by geometric operations ([`FILL`] in the reference).
    pub fill: u8,
}

impl RandAugment {
    /// The operation `OPS[index]` at this magnitude, with its random sign where it has one.
    pub fn op(&self, index: usize, rng: &mut Rng) -> Op {
        let level = self.magnitude / 10.0;
        let enhance = level * 1.8 + 0.1;
        match index {
            0 => Op::AutoContrast,
            1 => Op::Equalize,
            2 => Op::Invert,
            3 => Op::Rotate(random_sign(level * 30.0, rng)),
            4 => Op::Posterize((level * 4.0) as u8),
            5 => Op::Solarize((level * 256.0) as u16),
            6 => Op::Color(enhance),
            7 => Op::Contrast(enhance),
            8 => Op::Brightness(enhance),
            9 => Op::Sharpness(enhance),
            10 => Op::ShearX(random_sign(level * 0.3, rng)),
            11 => Op::ShearY(random_sign(level * 0.3, rng)),
            12 => Op::TranslateX(random_sign(level * self.translate_const, rng).round()),
            _ => Op::TranslateY(random_sign(level * self.translate_const, rng).round()),
        }
    }

    /// Augments `img` in place.
    pub fn apply(&self, img: &mut Image, rng: &mut Rng) {
        let prob = rng.uniform_range(0.2, 0.8);
        for _ in 0..self.num_ops {
            let index = self.ops.nth(rng.below(self.ops.len()));
            let op = self.op(index, rng);
            if rng.uniform() <= prob {
                op.apply(img, self.fill);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise_image(seed: u64) -> Image {
        let mut rng = Rng::new(seed);
        Image {
            pixels: (0..32 * 32 * 3)
                .map(|_| (30 + rng.below(210)) as u8)
                .collect(),
            height: 32,
            width: 32,
            channels: 3,
        }
    }

    /// A policy over `ops` with the reference translation constant and fill.
    fn policy(num_ops: usize, magnitude: f32, ops: OpSet) -> RandAugment {
        RandAugment {
            num_ops,
            magnitude,
            translate_const: 4.0,
            ops,
            fill: FILL,
        }
    }

    #[test]
    fn magnitudes_follow_the_reference_scale() {
        let ra = policy(2, 16.0, OpSet::ALL);
        let mut rng = Rng::new(1);
        assert_eq!(ra.op(4, &mut rng), Op::Posterize(6));
        assert_eq!(ra.op(5, &mut rng), Op::Solarize(409));
        match ra.op(7, &mut rng) {
            Op::Contrast(f) => assert!((f - 2.98).abs() < 1e-5),
            other => panic!("{other:?}"),
        }
        match ra.op(3, &mut rng) {
            Op::Rotate(d) => assert!((d.abs() - 48.0).abs() < 1e-4),
            other => panic!("{other:?}"),
        }
        match ra.op(12, &mut rng) {
            Op::TranslateX(px) => assert_eq!(px.abs(), 6.0),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_op_keeps_the_shape_and_changes_a_random_image() {
        let ra = policy(1, 9.0, OpSet::ALL);
        for (index, name) in OPS.iter().enumerate() {
            let img = noise_image(index as u64);
            let mut out = img.clone();
            ra.op(index, &mut Rng::new(3)).apply(&mut out, FILL);
            assert_eq!(out.pixels.len(), img.pixels.len());
            assert_ne!(out, img, "{name} left the image unchanged");
        }
    }

    #[test]
    fn seeded_and_sometimes_identity() {
        let ra = policy(2, 16.0, OpSet::ALL);
        let img = noise_image(9);
        let run = |seed| {
            let mut out = img.clone();
            ra.apply(&mut out, &mut Rng::new(seed));
            out
        };
        assert_eq!(run(4), run(4));
        let unchanged = (0..200).filter(|&s| run(s) == img).count();
        // Both ops skipped with probability E[(1 - p)^2] for p ~ U(0.2, 0.8), about 0.25, plus
        // the no-op Solarize at M = 16.
        assert!(
            (30..110).contains(&unchanged),
            "{unchanged} of 200 unchanged"
        );
    }

    #[test]
    fn op_sets_parse_by_name_and_name_what_is_wrong() {
        assert_eq!(OpSet::from_names(&OPS).unwrap(), OpSet::ALL);
        assert_eq!(OpSet::ALL.len(), OPS.len());
        assert!((0..OPS.len()).all(|k| OpSet::ALL.nth(k) == k));
        let set = OpSet::from_names(&["TranslateY", "Rotate", "Rotate"]).unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!((set.nth(0), set.nth(1)), (3, 13));
        let e = OpSet::from_names(&["Rotate", "Flip"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'Flip'") && e.contains("AutoContrast, Equalize"),
            "{e}"
        );
        let none: [&str; 0] = [];
        let e = OpSet::from_names(&none).unwrap_err().to_string();
        assert!(e.contains("at least one"), "{e}");
    }

    #[test]
    fn a_narrowed_set_applies_only_its_operations() {
        let ra = policy(2, 9.0, OpSet::from_names(&["Invert"]).unwrap());
        let img = noise_image(5);
        let mut inverted = img.clone();
        Op::Invert.apply(&mut inverted, FILL);
        let mut seen = [0; 2];
        for seed in 0..100 {
            let mut out = img.clone();
            ra.apply(&mut out, &mut Rng::new(seed));
            // Two inversions cancel, so every output is the image or its inverse.
            let k = [&img, &inverted]
                .iter()
                .position(|c| **c == out)
                .unwrap_or_else(|| panic!("seed {seed}: an operation outside the set"));
            seen[k] += 1;
        }
        assert!(seen[0] > 10 && seen[1] > 10, "{seen:?}");
    }
}

//! Named image augmentation policies: `none`, `weak`, `strong`, `autoaugment`.
//!
//! - `weak`: horizontal flip (probability 1/2, when flips are allowed), then pad by
//!   `pad_fraction` of the side and crop back at a random offset (the MPL weak view).
//! - `strong`: `weak`, then RandAugment (`n` ops at magnitude `m`), then Cutout of
//!   `cutout_fraction` of the side filled with grey (the MPL CIFAR recipe: 2 ops, magnitude 16,
//!   a 16x16 hole on 32x32 images). `randaugment_ops` narrows the operations drawn from.
//! - `autoaugment`: `weak`, then AutoAugment's CIFAR-10 policy, then the same Cutout (the
//!   AutoAugment paper's CIFAR pipeline).

use crate::autoaugment::autoaugment_cifar10;
use crate::error::{DataError, Result};
use crate::imageops::{Image, Padding, cutout, hflip, pad_crop};
use crate::randaugment::{FILL, OpSet, RandAugment};
use crate::rng::Rng;
use std::fmt;
use std::str::FromStr;

/// A policy by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyName {
    /// No augmentation.
    None,
    /// Flip and pad-and-crop.
    Weak,
    /// Weak, RandAugment and Cutout.
    Strong,
    /// Weak, AutoAugment (CIFAR-10 policy) and Cutout.
    AutoAugment,
}

/// Valid policy names, for messages.
pub const POLICY_NAMES: &str = "none, weak, strong, autoaugment";

impl PolicyName {
    /// Every policy's name, in the documented order.
    pub const NAMES: &'static [&'static str] = &["none", "weak", "strong", "autoaugment"];
}

impl serde::Serialize for PolicyName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PolicyName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl FromStr for PolicyName {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Self::None),
            "weak" => Ok(Self::Weak),
            "strong" => Ok(Self::Strong),
            "autoaugment" => Ok(Self::AutoAugment),
            other => Err(DataError::Invalid(format!(
                "unknown augmentation policy '{other}'; valid policies: {POLICY_NAMES}"
            ))),
        }
    }
}

impl fmt::Display for PolicyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::Weak => "weak",
            Self::Strong => "strong",
            Self::AutoAugment => "autoaugment",
        })
    }
}

/// The knobs shared by the policies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PolicySettings {
    /// Whether horizontal flips are allowed (off for digits and SVHN).
    pub flip: bool,
    /// Padding of pad-and-crop as a fraction of the image side (0.125: 4 pixels on 32).
    pub pad_fraction: f32,
    /// Reflect (the MPL code) or constant padding (with `fill`).
    pub padding: Padding,
    /// RandAugment operations per image.
    pub randaugment_n: usize,
    /// RandAugment magnitude (0..10 scale, may exceed 10).
    pub randaugment_m: f32,
    /// The operations RandAugment draws from.
    pub randaugment_ops: OpSet,
    /// Cutout side as a fraction of the image side (0 disables Cutout).
    pub cutout_fraction: f32,
    /// Grey level of Cutout's hole and of pixels uncovered by geometric operations
    /// ([`FILL`], 128, in the reference).
    pub fill: u8,
}

impl Default for PolicySettings {
    fn default() -> Self {
        Self {
            flip: true,
            pad_fraction: 0.125,
            padding: Padding::Reflect,
            randaugment_n: 2,
            randaugment_m: 16.0,
            randaugment_ops: OpSet::ALL,
            cutout_fraction: 0.5,
            fill: FILL,
        }
    }
}

/// A policy ready to apply.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ImagePolicy {
    /// Which policy.
    pub name: PolicyName,
    /// Its settings.
    pub settings: PolicySettings,
}

fn scaled(fraction: f32, side: usize) -> usize {
    (fraction * side as f32).round() as usize
}

impl ImagePolicy {
    /// `name` with `settings`.
    pub fn new(name: PolicyName, settings: PolicySettings) -> Self {
        Self { name, settings }
    }

    /// `img`, augmented.
    pub fn apply(&self, img: Image, rng: &mut Rng) -> Image {
        let s = &self.settings;
        if self.name == PolicyName::None {
            return img;
        }
        let mut out = img;
        if s.flip && rng.bernoulli(0.5) {
            hflip(&mut out);
        }
        let side = out.height.min(out.width);
        let pad = scaled(s.pad_fraction, side);
        if pad > 0 {
            out = pad_crop(&out, pad, s.padding, rng);
        }
        match self.name {
            PolicyName::Strong => RandAugment {
                num_ops: s.randaugment_n,
                magnitude: s.randaugment_m,
                translate_const: side as f32 / 8.0,
                ops: s.randaugment_ops,
                fill: s.fill,
            }
            .apply(&mut out, rng),
            PolicyName::AutoAugment => autoaugment_cifar10(&mut out, s.fill, rng),
            _ => return out,
        }
        let hole = scaled(s.cutout_fraction, side);
        if hole > 0 {
            cutout(&mut out, hole, s.fill, rng);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> Image {
        Image {
            pixels: (0..32 * 32 * 3).map(|v| (v % 251) as u8).collect(),
            height: 32,
            width: 32,
            channels: 3,
        }
    }

    #[test]
    fn names_round_trip_and_unknown_names_list_the_valid_ones() {
        for n in ["none", "weak", "strong", "autoaugment"] {
            assert_eq!(n.parse::<PolicyName>().unwrap().to_string(), n);
        }
        let err = "heavy".parse::<PolicyName>().unwrap_err().to_string();
        assert!(err.contains("heavy") && err.contains(POLICY_NAMES), "{err}");
    }

    #[test]
    fn policies_keep_shape_and_are_seeded() {
        let img = image();
        for name in ["none", "weak", "strong", "autoaugment"] {
            let p = ImagePolicy::new(name.parse().unwrap(), PolicySettings::default());
            let a = p.apply(img.clone(), &mut Rng::new(7));
            assert_eq!(a.pixels.len(), img.pixels.len());
            assert_eq!(a, p.apply(img.clone(), &mut Rng::new(7)));
            if name == "none" {
                assert_eq!(a, img);
            }
        }
    }

    #[test]
    fn strong_cuts_a_grey_hole_and_weak_only_moves_pixels() {
        let img = image();
        let strong = ImagePolicy::new(PolicyName::Strong, PolicySettings::default());
        let weak = ImagePolicy::new(PolicyName::Weak, PolicySettings::default());
        let mut holes = 0;
        for seed in 0..20 {
            let s = strong.apply(img.clone(), &mut Rng::new(seed));
            let grey = s.pixels.chunks(3).filter(|p| p == &[FILL; 3]).count();
            // A 16x16 hole, clipped at the border: at least 8x8 = 64 pixels.
            holes += usize::from(grey >= 64);
            let w = weak.apply(img.clone(), &mut Rng::new(seed));
            assert!(w.pixels.iter().all(|p| img.pixels.contains(p)));
        }
        assert!(holes >= 18, "{holes} of 20 strong views have a Cutout hole");
    }

    /// Black pixels in the strong views of 20 seeds of a bright image (which has none).
    fn black_pixels(settings: PolicySettings) -> Vec<usize> {
        let img = Image {
            pixels: (0..32 * 32).map(|v| (60 + v % 190) as u8).collect(),
            height: 32,
            width: 32,
            channels: 1,
        };
        let strong = ImagePolicy::new(PolicyName::Strong, settings);
        (0..20)
            .map(|seed| {
                let s = strong.apply(img.clone(), &mut Rng::new(seed));
                s.pixels.iter().filter(|&&p| p == 0).count()
            })
            .collect()
    }

    #[test]
    fn fill_colours_the_hole_and_the_uncovered_pixels() {
        let settings = |fill, op, cutout_fraction| PolicySettings {
            fill,
            pad_fraction: 0.0,
            cutout_fraction,
            randaugment_n: 1,
            randaugment_ops: OpSet::from_names(&[op]).unwrap(),
            ..PolicySettings::default()
        };
        // Cutout's hole (at least 8x8 after clipping) is black in every view with fill 0.
        let cut = black_pixels(settings(0, "Brightness", 0.5));
        assert!(cut.iter().all(|&n| n >= 64), "{cut:?}");
        let cut_grey = black_pixels(settings(FILL, "Brightness", 0.5));
        assert!(cut_grey.iter().all(|&n| n == 0), "{cut_grey:?}");
        // Without Cutout, rotations (48 degrees at M = 16) uncover corners, filled with 0.
        let rotated = black_pixels(settings(0, "Rotate", 0.0));
        assert!(rotated.iter().any(|&n| n > 20), "{rotated:?}");
        let rotated_grey = black_pixels(settings(FILL, "Rotate", 0.0));
        assert!(rotated_grey.iter().all(|&n| n == 0), "{rotated_grey:?}");
    }
}

//! AutoAugment's CIFAR-10 policy (Cubuk et al., 2019): 25 sub-policies of two operations, each
//! with a probability and a magnitude bin 0..9; one sub-policy is drawn uniformly per image.
//! Magnitude bins map to the ranges torchvision uses (`num_bins = 10`).

use crate::imageops::Image;
use crate::randaugment::{Op, random_sign};
use crate::rng::Rng;

/// Which operation a policy entry names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Name {
    Invert,
    Contrast,
    Rotate,
    TranslateX,
    TranslateY,
    Sharpness,
    ShearY,
    AutoContrast,
    Equalize,
    Posterize,
    Color,
    Brightness,
    Solarize,
}

use Name::*;

/// (operation, probability, magnitude bin) pairs of the CIFAR-10 policy.
const CIFAR10: [[(Name, f64, usize); 2]; 25] = [
    [(Invert, 0.1, 0), (Contrast, 0.2, 6)],
    [(Rotate, 0.7, 2), (TranslateX, 0.3, 9)],
    [(Sharpness, 0.8, 1), (Sharpness, 0.9, 3)],
    [(ShearY, 0.5, 8), (TranslateY, 0.7, 9)],
    [(AutoContrast, 0.5, 0), (Equalize, 0.9, 0)],
    [(ShearY, 0.2, 7), (Posterize, 0.3, 7)],
    [(Color, 0.4, 3), (Brightness, 0.6, 7)],
    [(Sharpness, 0.3, 9), (Brightness, 0.7, 9)],
    [(Equalize, 0.6, 0), (Equalize, 0.5, 0)],
    [(Contrast, 0.6, 7), (Sharpness, 0.6, 5)],
    [(Color, 0.7, 7), (TranslateX, 0.5, 8)],
    [(Equalize, 0.3, 0), (AutoContrast, 0.4, 0)],
    [(TranslateY, 0.4, 3), (Sharpness, 0.2, 6)],
    [(Brightness, 0.9, 6), (Color, 0.2, 8)],
    [(Solarize, 0.5, 2), (Invert, 0.0, 0)],
    [(Equalize, 0.2, 0), (AutoContrast, 0.6, 0)],
    [(Equalize, 0.2, 0), (Equalize, 0.6, 0)],
    [(Color, 0.9, 9), (Equalize, 0.6, 0)],
    [(AutoContrast, 0.8, 0), (Solarize, 0.2, 8)],
    [(Brightness, 0.1, 3), (Color, 0.7, 0)],
    [(Solarize, 0.4, 5), (AutoContrast, 0.9, 0)],
    [(TranslateY, 0.9, 9), (TranslateY, 0.7, 9)],
    [(AutoContrast, 0.9, 0), (Solarize, 0.4, 3)],
    [(Equalize, 0.8, 0), (Invert, 0.1, 0)],
    [(TranslateY, 0.7, 9), (AutoContrast, 0.9, 0)],
];

/// Number of sub-policies.
pub const SUB_POLICIES: usize = CIFAR10.len();

/// Whole-pixel shift of up to 150/331 of the width (torchvision truncates to an integer).
fn shift(width: usize, frac: f32, rng: &mut Rng) -> f32 {
    random_sign(150.0 / 331.0 * width as f32 * frac, rng).trunc()
}

/// The operation for `name` at magnitude `bin` on an image `width` pixels wide.
fn resolve(name: Name, bin: usize, width: usize, rng: &mut Rng) -> Op {
    let frac = bin as f32 / 9.0;
    let enhance = |rng: &mut Rng| 1.0 + random_sign(0.9 * frac, rng);
    match name {
        Invert => Op::Invert,
        AutoContrast => Op::AutoContrast,
        Equalize => Op::Equalize,
        Contrast => Op::Contrast(enhance(rng)),
        Sharpness => Op::Sharpness(enhance(rng)),
        Color => Op::Color(enhance(rng)),
        Brightness => Op::Brightness(enhance(rng)),
        Rotate => Op::Rotate(random_sign(30.0 * frac, rng)),
        ShearY => Op::ShearY(random_sign(0.3 * frac, rng)),
        TranslateX => Op::TranslateX(shift(width, frac, rng)),
        TranslateY => Op::TranslateY(shift(width, frac, rng)),
        Posterize => Op::Posterize(8 - (bin as f32 / 2.25).round() as u8),
        Solarize => Op::Solarize((255.0 * (1.0 - frac)) as u16),
    }
}

/// Applies sub-policy `index` to `img`; geometric operations fill with `fill`.
pub fn apply_sub_policy(index: usize, img: &mut Image, fill: u8, rng: &mut Rng) {
    for (name, prob, bin) in CIFAR10[index] {
        let op = resolve(name, bin, img.width, rng);
        if rng.uniform() < prob {
            op.apply(img, fill);
        }
    }
}

/// Applies a uniformly drawn sub-policy of the CIFAR-10 policy; geometric operations fill with
/// `fill`.
pub fn autoaugment_cifar10(img: &mut Image, fill: u8, rng: &mut Rng) {
    let index = rng.below(SUB_POLICIES);
    apply_sub_policy(index, img, fill, rng);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magnitudes_match_torchvision_bins() {
        let mut rng = Rng::new(0);
        assert_eq!(resolve(Posterize, 7, 32, &mut rng), Op::Posterize(5));
        assert_eq!(resolve(Posterize, 0, 32, &mut rng), Op::Posterize(8));
        assert_eq!(resolve(Solarize, 0, 32, &mut rng), Op::Solarize(255));
        assert_eq!(resolve(Solarize, 9, 32, &mut rng), Op::Solarize(0));
        match resolve(TranslateX, 9, 32, &mut rng) {
            Op::TranslateX(px) => assert_eq!(px.abs(), 14.0),
            other => panic!("{other:?}"),
        }
        match resolve(Brightness, 9, 32, &mut rng) {
            Op::Brightness(f) => assert!((f - 1.9).abs() < 1e-6 || (f - 0.1).abs() < 1e-6),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn policy_is_seeded_and_keeps_shape() {
        let img = Image {
            pixels: (0..8 * 8 * 3).map(|v| (v * 5 % 256) as u8).collect(),
            height: 8,
            width: 8,
            channels: 3,
        };
        let run = |seed| {
            let mut out = img.clone();
            autoaugment_cifar10(&mut out, crate::randaugment::FILL, &mut Rng::new(seed));
            out
        };
        assert_eq!(run(3), run(3));
        let changed = (0..100).filter(|&s| run(s) != img).count();
        assert!(changed > 40, "only {changed} of 100 images changed");
        assert!((0..100).all(|s| run(s).pixels.len() == img.pixels.len()));
    }
}

//! Geometric augmentations on one `u8` HWC image: horizontal flip, pad-and-crop, Cutout and
//! affine warps (rotate, shear, translate). Each random op draws from the caller's [`Rng`], so a
//! seed fixes the result.

use crate::image::ImageSet;
use crate::rng::Rng;

/// An image buffer with its geometry.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    /// Pixels, HWC.
    pub pixels: Vec<u8>,
    /// Height.
    pub height: usize,
    /// Width.
    pub width: usize,
    /// Channels.
    pub channels: usize,
}

impl Image {
    /// Image `i` of a set, copied.
    pub fn from_set(set: &ImageSet, i: usize) -> Self {
        Self {
            pixels: set.image(i).to_vec(),
            height: set.height,
            width: set.width,
            channels: set.channels,
        }
    }

    fn offset(&self, y: usize, x: usize) -> usize {
        (y * self.width + x) * self.channels
    }
}

/// An affine map from output pixel centres to input coordinates:
/// `x_in = a * x + b * y + c`, `y_in = d * x + e * y + f` (PIL's `Image.transform` convention).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine {
    /// Coefficients `[a, b, c, d, e, f]`.
    pub m: [f32; 6],
}

impl Affine {
    /// Shear along x: `x_in = x + level * y`.
    pub fn shear_x(level: f32) -> Self {
        Self {
            m: [1.0, level, 0.0, 0.0, 1.0, 0.0],
        }
    }

    /// Shear along y: `y_in = y + level * x`.
    pub fn shear_y(level: f32) -> Self {
        Self {
            m: [1.0, 0.0, 0.0, level, 1.0, 0.0],
        }
    }

    /// Translation: the content moves by `(dx, dy)` pixels.
    pub fn translate(dx: f32, dy: f32) -> Self {
        Self {
            m: [1.0, 0.0, -dx, 0.0, 1.0, -dy],
        }
    }

    /// Rotation of the content by `degrees` counter-clockwise about the image centre (as PIL).
    pub fn rotate(degrees: f32, height: usize, width: usize) -> Self {
        let t = degrees.to_radians();
        let (s, c) = t.sin_cos();
        let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
        // Inverse map: rotate output coordinates by -degrees (clockwise in image space, whose
        // y axis points down) about the centre.
        Self {
            m: [c, -s, cx - c * cx + s * cy, s, c, cy - s * cx - c * cy],
        }
    }
}

/// Warps the image with `map`, nearest-neighbour sampling at pixel centres; pixels that fall
/// outside the source get `fill` in every channel.
pub fn warp(img: &Image, map: Affine, fill: u8) -> Image {
    let (h, w, c) = (img.height, img.width, img.channels);
    let [a, b, cc, d, e, f] = map.m;
    let mut out = vec![fill; h * w * c];
    for y in 0..h {
        let yc = y as f32 + 0.5;
        for x in 0..w {
            let xc = x as f32 + 0.5;
            let sx = (a * xc + b * yc + cc).floor();
            let sy = (d * xc + e * yc + f).floor();
            if sx >= 0.0 && sy >= 0.0 && (sx as usize) < w && (sy as usize) < h {
                let s = img.offset(sy as usize, sx as usize);
                let o = (y * w + x) * c;
                out[o..o + c].copy_from_slice(&img.pixels[s..s + c]);
            }
        }
    }
    Image {
        pixels: out,
        ..img.clone()
    }
}

/// How pad-and-crop fills the border.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// Mirror the image without repeating the edge (PyTorch's `reflect`).
    Reflect,
    /// A constant grey level in every channel.
    Constant(u8),
}

/// Mirrors the image left to right.
pub fn hflip(img: &mut Image) {
    let c = img.channels;
    for y in 0..img.height {
        for x in 0..img.width / 2 {
            let (a, b) = (img.offset(y, x), img.offset(y, img.width - 1 - x));
            for k in 0..c {
                img.pixels.swap(a + k, b + k);
            }
        }
    }
}

/// Index into `0..n` of position `i` (which may lie `pad` outside) under reflection.
fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    let mut i = i;
    if n == 1 {
        return 0;
    }
    while i < 0 || i >= n {
        if i < 0 {
            i = -i;
        }
        if i >= n {
            i = 2 * (n - 1) - i;
        }
    }
    i as usize
}

/// Pads by `pad` pixels on every side and crops back to the original size at offset
/// `(dy, dx)` in `0..=2 * pad`.
pub fn pad_crop_at(img: &Image, pad: usize, padding: Padding, dy: usize, dx: usize) -> Image {
    let (h, w, c) = (img.height, img.width, img.channels);
    let mut out = vec![0u8; h * w * c];
    for y in 0..h {
        for x in 0..w {
            let sy = y as isize + dy as isize - pad as isize;
            let sx = x as isize + dx as isize - pad as isize;
            let o = (y * w + x) * c;
            let inside = (0..h as isize).contains(&sy) && (0..w as isize).contains(&sx);
            match (inside, padding) {
                (false, Padding::Constant(v)) => out[o..o + c].fill(v),
                _ => {
                    let s = img.offset(reflect(sy, h), reflect(sx, w));
                    out[o..o + c].copy_from_slice(&img.pixels[s..s + c]);
                }
            }
        }
    }
    Image {
        pixels: out,
        ..img.clone()
    }
}

/// Pad-and-crop at a uniformly random offset (the translation of the MPL weak view).
pub fn pad_crop(img: &Image, pad: usize, padding: Padding, rng: &mut Rng) -> Image {
    let dy = rng.below(2 * pad + 1);
    let dx = rng.below(2 * pad + 1);
    pad_crop_at(img, pad, padding, dy, dx)
}

/// Fills a `size` x `size` square centred at `(cy, cx)` (clipped to the image) with `fill`.
pub fn cutout_at(img: &mut Image, size: usize, cy: usize, cx: usize, fill: u8) {
    let half = size / 2;
    let (y0, x0) = (cy.saturating_sub(half), cx.saturating_sub(half));
    let (y1, x1) = (
        (cy + size - half).min(img.height),
        (cx + size - half).min(img.width),
    );
    for y in y0..y1 {
        for x in x0..x1 {
            let o = img.offset(y, x);
            let c = img.channels;
            img.pixels[o..o + c].fill(fill);
        }
    }
}

/// Cutout at a uniformly random centre.
pub fn cutout(img: &mut Image, size: usize, fill: u8, rng: &mut Rng) {
    let cy = rng.below(img.height);
    let cx = rng.below(img.width);
    cutout_at(img, size, cy, cx, fill);
}

/// The weak view of the MPL code: a horizontal flip with probability 1/2, then reflect-pad by
/// `pad` and a random crop (pad 4 for 32x32 images).
pub fn weak_view(img: &Image, pad: usize, rng: &mut Rng) -> Image {
    let mut out = img.clone();
    if rng.bernoulli(0.5) {
        hflip(&mut out);
    }
    pad_crop(&out, pad, Padding::Reflect, rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3x4 grey image whose pixel value is `10 * y + x`.
    fn ramp() -> Image {
        Image {
            pixels: (0..3)
                .flat_map(|y| (0..4).map(move |x| (10 * y + x) as u8))
                .collect(),
            height: 3,
            width: 4,
            channels: 1,
        }
    }

    #[test]
    fn flip_mirrors_rows_and_is_an_involution() {
        let mut img = ramp();
        hflip(&mut img);
        assert_eq!(&img.pixels[..4], &[3, 2, 1, 0]);
        assert_eq!(&img.pixels[8..], &[23, 22, 21, 20]);
        hflip(&mut img);
        assert_eq!(img, ramp());
        let mut rgb = Image {
            pixels: vec![1, 2, 3, 4, 5, 6],
            height: 1,
            width: 2,
            channels: 3,
        };
        hflip(&mut rgb);
        assert_eq!(rgb.pixels, vec![4, 5, 6, 1, 2, 3]);
    }

    #[test]
    fn pad_crop_translates_with_reflect_or_constant_borders() {
        let img = ramp();
        assert_eq!(pad_crop_at(&img, 2, Padding::Reflect, 2, 2), img);
        // Shift right by one (dx = 1 with pad 2): column 0 comes from x = -1, reflected to x = 1.
        let r = pad_crop_at(&img, 2, Padding::Reflect, 2, 1);
        assert_eq!(&r.pixels[..4], &[1, 0, 1, 2]);
        let c = pad_crop_at(&img, 2, Padding::Constant(128), 0, 0);
        assert_eq!(&c.pixels[..4], &[128, 128, 128, 128]);
        assert_eq!(c.pixels[2 * 4 + 2], 0);
        assert_eq!(reflect(-2, 4), 2);
        assert_eq!(reflect(5, 4), 1);
    }

    #[test]
    fn cutout_fills_a_clipped_square() {
        let mut img = ramp();
        cutout_at(&mut img, 2, 0, 0, 255);
        assert_eq!(img.pixels[0], 255);
        assert_eq!(img.pixels.iter().filter(|&&p| p == 255).count(), 1);
        let mut img = ramp();
        cutout_at(&mut img, 2, 1, 1, 7);
        assert_eq!(img.pixels.iter().filter(|&&p| p == 7).count(), 4);
    }

    #[test]
    fn warps_move_pixels_as_expected() {
        let img = ramp();
        assert_eq!(warp(&img, Affine::translate(0.0, 0.0), 0), img);
        let t = warp(&img, Affine::translate(1.0, 0.0), 200);
        assert_eq!(&t.pixels[..4], &[200, 0, 1, 2]);
        let t = warp(&img, Affine::translate(0.0, -1.0), 200);
        assert_eq!(&t.pixels[..4], &[10, 11, 12, 13]);
        assert_eq!(&t.pixels[8..], &[200; 4]);
        // Shear x by 1: the centre of pixel (x, y) samples x + 0.5 + (y + 0.5), so row 0 starts
        // at x = 1 and row 1 at x = 2.
        let s = warp(&img, Affine::shear_x(1.0), 99);
        assert_eq!(&s.pixels[..4], &[1, 2, 3, 99]);
        assert_eq!(&s.pixels[4..8], &[12, 13, 99, 99]);
        // A 90-degree rotation of a square maps the top row to the left column (PIL: positive
        // angles turn the content counter-clockwise).
        let sq = Image {
            pixels: (0..16).collect(),
            height: 4,
            width: 4,
            channels: 1,
        };
        let r = warp(&sq, Affine::rotate(90.0, 4, 4), 0);
        assert_eq!(
            [r.pixels[0], r.pixels[4], r.pixels[8], r.pixels[12]],
            [3, 2, 1, 0]
        );
        let full = warp(&sq, Affine::rotate(360.0, 4, 4), 0);
        assert_eq!(full, sq);
    }

    #[test]
    fn random_views_are_seeded_and_keep_values() {
        let img = ramp();
        let a = weak_view(&img, 2, &mut Rng::new(5));
        assert_eq!(a, weak_view(&img, 2, &mut Rng::new(5)));
        let mut seen_other = false;
        for s in 0..20 {
            let v = weak_view(&img, 2, &mut Rng::new(s));
            assert!(v.pixels.iter().all(|p| img.pixels.contains(p)));
            seen_other |= v != img;
        }
        assert!(seen_other);
        let mut c = ramp();
        cutout(&mut c, 2, 99, &mut Rng::new(1));
        assert!(c.pixels.contains(&99));
    }
}

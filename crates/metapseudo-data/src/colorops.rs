//! Pixel-value augmentations on one `u8` HWC image, following PIL's `ImageOps` and
//! `ImageEnhance` (the operations of RandAugment and AutoAugment). Grey images (one channel)
//! are handled like one channel of an RGB image; `color` leaves them unchanged.

use crate::imageops::Image;

/// Stretches each channel so its darkest pixel becomes 0 and its brightest 255.
pub fn autocontrast(img: &mut Image) {
    for ch in 0..img.channels {
        let values = img.pixels.iter().skip(ch).step_by(img.channels);
        let (lo, hi) = values.fold((255u8, 0u8), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        if hi <= lo {
            continue;
        }
        let scale = 255.0 / f32::from(hi - lo);
        let lut: Vec<u8> = (0..=255u8)
            .map(|v| {
                let x = (f32::from(v) - f32::from(lo)) * scale;
                x.round().clamp(0.0, 255.0) as u8
            })
            .collect();
        map_channel(img, ch, &lut);
    }
}

/// Histogram equalisation of each channel (PIL's `ImageOps.equalize`).
pub fn equalize(img: &mut Image) {
    for ch in 0..img.channels {
        let mut hist = [0usize; 256];
        for &v in img.pixels.iter().skip(ch).step_by(img.channels) {
            hist[usize::from(v)] += 1;
        }
        let last = hist.iter().rposition(|&n| n > 0).unwrap_or(0);
        let step = (hist.iter().sum::<usize>() - hist[last]) / 255;
        if step == 0 {
            continue;
        }
        let mut lut = [0u8; 256];
        let mut n = step / 2;
        for (v, count) in hist.iter().enumerate() {
            lut[v] = (n / step).min(255) as u8;
            n += count;
        }
        map_channel(img, ch, &lut);
    }
}

fn map_channel(img: &mut Image, ch: usize, lut: &[u8]) {
    let c = img.channels;
    for v in img.pixels.iter_mut().skip(ch).step_by(c) {
        *v = lut[usize::from(*v)];
    }
}

/// `255 - v` for every value.
pub fn invert(img: &mut Image) {
    for v in &mut img.pixels {
        *v = 255 - *v;
    }
}

/// Keeps the `bits` most significant bits of each value (`bits` in 0..=8).
pub fn posterize(img: &mut Image, bits: u8) {
    let mask = if bits >= 8 {
        0xFF
    } else {
        !(0xFFu8 >> bits.min(8))
    };
    for v in &mut img.pixels {
        *v &= mask;
    }
}

/// Inverts every value at or above `threshold` (a threshold above 255 changes nothing).
pub fn solarize(img: &mut Image, threshold: u16) {
    for v in &mut img.pixels {
        if u16::from(*v) >= threshold {
            *v = 255 - *v;
        }
    }
}

/// `degenerate + factor * (img - degenerate)`, rounded and clipped to `0..=255`, in place.
fn blend_into(img: &mut Image, degenerate: &[u8], factor: f32) {
    for (v, &d) in img.pixels.iter_mut().zip(degenerate) {
        let x = f32::from(d) + factor * (f32::from(*v) - f32::from(d));
        *v = x.round().clamp(0.0, 255.0) as u8;
    }
}

/// ITU-R 601-2 luma of each pixel (PIL's `L` conversion), one value per pixel.
fn luma(img: &Image) -> Vec<u8> {
    if img.channels == 1 {
        return img.pixels.clone();
    }
    img.pixels
        .chunks_exact(img.channels)
        .map(|p| {
            let l = (299 * u32::from(p[0]) + 587 * u32::from(p[1]) + 114 * u32::from(p[2]) + 500)
                / 1000;
            l as u8
        })
        .collect()
}

/// Saturation: factor 0 gives the grey image, 1 the original, above 1 more colour.
pub fn color(img: &mut Image, factor: f32) {
    if img.channels < 3 {
        return;
    }
    let grey: Vec<u8> = luma(img)
        .into_iter()
        .flat_map(|l| std::iter::repeat_n(l, img.channels))
        .collect();
    blend_into(img, &grey, factor);
}

/// Contrast: factor 0 gives a flat image at the mean grey level, 1 the original.
pub fn contrast(img: &mut Image, factor: f32) {
    let l = luma(img);
    let mean = l.iter().map(|&v| u64::from(v)).sum::<u64>() as f32 / l.len().max(1) as f32;
    let flat = vec![mean.round() as u8; img.pixels.len()];
    blend_into(img, &flat, factor);
}

/// Brightness: factor 0 gives black, 1 the original.
pub fn brightness(img: &mut Image, factor: f32) {
    let black = vec![0u8; img.pixels.len()];
    blend_into(img, &black, factor);
}

/// Sharpness: factor 0 gives PIL's smoothed image (3x3 kernel `[1 1 1; 1 5 1; 1 1 1] / 13`,
/// border pixels kept), 1 the original, above 1 sharper.
pub fn sharpness(img: &mut Image, factor: f32) {
    let (h, w, c) = (img.height, img.width, img.channels);
    let mut smooth = img.pixels.clone();
    if h >= 3 && w >= 3 {
        for y in 1..h - 1 {
            for x in 1..w - 1 {
                for ch in 0..c {
                    let mut sum = 0u32;
                    for dy in 0..3 {
                        for dx in 0..3 {
                            let weight = if dy == 1 && dx == 1 { 5 } else { 1 };
                            let p = img.pixels[((y + dy - 1) * w + x + dx - 1) * c + ch];
                            sum += weight * u32::from(p);
                        }
                    }
                    smooth[(y * w + x) * c + ch] = ((sum + 6) / 13) as u8;
                }
            }
        }
    }
    blend_into(img, &smooth, factor);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rgb(pixels: Vec<u8>, h: usize, w: usize) -> Image {
        Image {
            pixels,
            height: h,
            width: w,
            channels: 3,
        }
    }

    fn grey(pixels: Vec<u8>, h: usize, w: usize) -> Image {
        Image {
            pixels,
            height: h,
            width: w,
            channels: 1,
        }
    }

    #[test]
    fn autocontrast_stretches_each_channel() {
        let mut img = rgb(vec![50, 0, 7, 100, 0, 7, 150, 0, 7], 1, 3);
        autocontrast(&mut img);
        assert_eq!(img.pixels, vec![0, 0, 7, 128, 0, 7, 255, 0, 7]);
    }

    #[test]
    fn equalize_spreads_a_histogram() {
        // Values 0..63, sixteen pixels each: equalisation spreads them over 0..255.
        let mut img = grey((0..1024).map(|i| (i / 16) as u8).collect(), 32, 32);
        equalize(&mut img);
        assert_eq!(img.pixels[0], 0);
        assert_eq!(img.pixels[24 * 16], 128);
        assert_eq!(img.pixels[62 * 16], 255);
        assert!(img.pixels.windows(2).all(|p| p[0] <= p[1]));
        let mut flat = grey(vec![9; 16], 4, 4);
        equalize(&mut flat);
        assert_eq!(flat.pixels, vec![9; 16]);
    }

    #[test]
    fn point_ops_match_their_definitions() {
        let mut img = grey(vec![0, 100, 128, 200, 255], 1, 5);
        invert(&mut img);
        assert_eq!(img.pixels, vec![255, 155, 127, 55, 0]);
        let mut img = grey(vec![0, 100, 128, 200, 255], 1, 5);
        solarize(&mut img, 128);
        assert_eq!(img.pixels, vec![0, 100, 127, 55, 0]);
        solarize(&mut img, 409);
        assert_eq!(img.pixels, vec![0, 100, 127, 55, 0]);
        let mut img = grey(vec![0, 100, 128, 200, 255], 1, 5);
        posterize(&mut img, 2);
        assert_eq!(img.pixels, vec![0, 64, 128, 192, 192]);
        posterize(&mut img, 8);
        assert_eq!(img.pixels, vec![0, 64, 128, 192, 192]);
    }

    #[test]
    fn enhancers_interpolate_between_degenerate_and_original() {
        let orig = rgb(vec![200, 100, 50, 10, 20, 30], 1, 2);
        for f in [brightness, color, contrast, sharpness] {
            let mut same = orig.clone();
            f(&mut same, 1.0);
            assert_eq!(same, orig);
        }
        let mut dark = orig.clone();
        brightness(&mut dark, 0.0);
        assert_eq!(dark.pixels, vec![0; 6]);
        let mut bright = orig.clone();
        brightness(&mut bright, 2.0);
        assert_eq!(bright.pixels, vec![255, 200, 100, 20, 40, 60]);
        let mut g = orig.clone();
        color(&mut g, 0.0);
        assert_eq!(&g.pixels[..3], &[124, 124, 124]);
        let mut flat = orig.clone();
        contrast(&mut flat, 0.0);
        assert!(flat.pixels.iter().all(|&v| v == flat.pixels[0]));
        let mut spot = grey(vec![0; 9], 3, 3);
        spot.pixels[4] = 130;
        let mut smooth = spot.clone();
        sharpness(&mut smooth, 0.0);
        assert_eq!(smooth.pixels[4], 50);
        assert_eq!(smooth.pixels[0], 0);
        let mut sharp = spot.clone();
        sharpness(&mut sharp, 2.0);
        assert_eq!(sharp.pixels[4], 210);
    }
}

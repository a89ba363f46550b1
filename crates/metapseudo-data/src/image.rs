//! Decoded images kept in memory as `u8`, height-width-channel interleaved (as PIL), with
//! optional class labels.

/// A set of equally sized images.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageSet {
    /// Pixels, `len() * height * width * channels` bytes, each image HWC.
    pub pixels: Vec<u8>,
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Class of each image, `None` for unlabeled images.
    pub labels: Vec<Option<usize>>,
}

impl ImageSet {
    /// Bytes per image.
    pub fn image_len(&self) -> usize {
        self.height * self.width * self.channels
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The pixels of image `i` (HWC).
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_len();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// Writes one HWC image of this set's geometry as channel-planar (CHW) features scaled to
    /// `[0, 1]`, the layout networks take.
    pub fn write_chw(&self, hwc: &[u8], out: &mut [f32]) {
        hwc_to_chw(hwc, self.channels, out);
    }

    /// The images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> ImageSet {
        let mut pixels = Vec::with_capacity(indices.len() * self.image_len());
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
        }
        ImageSet {
            pixels,
            height: self.height,
            width: self.width,
            channels: self.channels,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    /// Appends the images of `other` (same geometry) to this set.
    pub fn extend(&mut self, other: &ImageSet) {
        debug_assert_eq!(self.image_len(), other.image_len());
        self.pixels.extend_from_slice(&other.pixels);
        self.labels.extend_from_slice(&other.labels);
    }
}

/// Writes an HWC `u8` image of `channels` channels as channel-planar (CHW) values scaled to
/// `[0, 1]`; `out` holds `hwc.len()` values.
pub fn hwc_to_chw(hwc: &[u8], channels: usize, out: &mut [f32]) {
    let plane = hwc.len() / channels;
    for (p, px) in hwc.chunks_exact(channels).enumerate() {
        for (ch, &v) in px.iter().enumerate() {
            out[ch * plane + p] = f32::from(v) / 255.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_channel_planar_and_scaled() {
        // One 1x2 RGB image: pixels (10, 20, 30) and (40, 50, 60).
        let set = ImageSet {
            pixels: vec![10, 20, 30, 40, 50, 60],
            height: 1,
            width: 2,
            channels: 3,
            labels: vec![Some(1)],
        };
        let mut out = vec![0.0; 6];
        set.write_chw(set.image(0), &mut out);
        let expect: Vec<f32> = [10, 40, 20, 50, 30, 60]
            .iter()
            .map(|&v| v as f32 / 255.0)
            .collect();
        assert_eq!(out, expect);
    }
}

//! `metapseudo data preview`: a PNG grid with one row per image: the original, then views
//! made by an augmentation policy.

use anyhow::{Context, Result, bail};
use metapseudo_data::Rng;
use metapseudo_data::image::ImageSet;
use metapseudo_data::imageops::Image;
use metapseudo_data::policy::ImagePolicy;
use std::path::Path;

/// What the grid shows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PreviewOptions {
    /// Rows (images).
    pub rows: usize,
    /// Augmented views per row, after the original.
    pub views: usize,
    /// Seed of the image choice and the augmentations.
    pub seed: u64,
}

/// Gap between cells, in output pixels.
const GAP: usize = 4;

/// Renders the grid as RGB pixels; returns `(width, height, pixels)`.
pub fn preview_grid(
    set: &ImageSet,
    policy: &ImagePolicy,
    opts: PreviewOptions,
) -> Result<(usize, usize, Vec<u8>)> {
    if set.is_empty() {
        bail!("the training pool has no images to preview");
    }
    let side = set.height.max(set.width);
    let scale = 96usize.div_ceil(side).max(1);
    let (cell_h, cell_w) = (set.height * scale, set.width * scale);
    let cols = opts.views + 1;
    let rows = opts.rows.min(set.len()).max(1);
    let width = cols * cell_w + (cols + 1) * GAP;
    let height = rows * cell_h + (rows + 1) * GAP;
    let mut out = vec![255u8; width * height * 3];
    let mut rng = Rng::stream(opts.seed, "preview");
    for r in 0..rows {
        let original = Image::from_set(set, rng.below(set.len()));
        for c in 0..cols {
            let img = if c == 0 {
                original.clone()
            } else {
                policy.apply(original.clone(), &mut rng)
            };
            let (x0, y0) = (GAP + c * (cell_w + GAP), GAP + r * (cell_h + GAP));
            for y in 0..cell_h {
                for x in 0..cell_w {
                    let p = ((y / scale) * img.width + x / scale) * img.channels;
                    let rgb = if img.channels == 1 {
                        [img.pixels[p]; 3]
                    } else {
                        [img.pixels[p], img.pixels[p + 1], img.pixels[p + 2]]
                    };
                    let o = ((y0 + y) * width + x0 + x) * 3;
                    out[o..o + 3].copy_from_slice(&rgb);
                }
            }
        }
    }
    Ok((width, height, out))
}

/// Writes the grid to a PNG file.
pub fn write_preview(
    set: &ImageSet,
    policy: &ImagePolicy,
    opts: PreviewOptions,
    path: &Path,
) -> Result<()> {
    let (w, h, pixels) = preview_grid(set, policy, opts)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    image::save_buffer(
        path,
        &pixels,
        w as u32,
        h as u32,
        image::ExtendedColorType::Rgb8,
    )
    .with_context(|| format!("cannot write {}", path.display()))
}

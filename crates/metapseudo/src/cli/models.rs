//! `metapseudo models`: the registered networks with their trainable parameter counts.

use anyhow::{Context, Result};
use metapseudo::config::{Config, ModelName};
use metapseudo::models::{MODELS, ModelShape, build, trainable_params};

/// Runs `metapseudo models`.
pub fn run() -> Result<()> {
    // Parameters require gradients only on an autodiff device; that is what is counted.
    let device = burn::tensor::Device::flex().autodiff();
    let config = Config::default();
    println!("{:<10} {:>12}  description", "name", "params");
    for (name, about) in MODELS {
        let mut model_config = config.model.clone();
        model_config.name = *name;
        let (shape, counted_on) = if *name == ModelName::Mlp {
            (
                ModelShape::flat(64, 10),
                "64 inputs, 10 classes, default widths",
            )
        } else {
            (
                ModelShape::image([3, 32, 32], 10),
                "3x32x32 images, 10 classes",
            )
        };
        let net = build(
            &model_config,
            &shape,
            &mut metapseudo::data::Rng::new(0),
            &device,
        )
        .context("building a registered model")?;
        println!(
            "{name:<10} {:>12}  {about} (counted for {counted_on})",
            trainable_params(&net)
        );
    }
    Ok(())
}

//! `metapseudo devices`: the compute devices of this build, and a check of every network on a
//! device against the CPU.

use anyhow::{Result, bail};
use clap::Args;

/// `metapseudo devices`' arguments.
#[derive(Args)]
pub struct DevicesArgs {
    /// Compare on this device (cuda, cuda:N, wgpu) against the CPU.
    #[arg(long, value_name = "DEVICE")]
    check: Option<String>,
    /// Compare only this network (default: every registered one).
    #[arg(long)]
    model: Option<String>,
    /// Random 3x32x32 images per comparison.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// The largest relative error of the logits (||device - cpu|| / ||cpu||) that passes.
    #[arg(long, default_value_t = 1e-2)]
    tolerance: f64,
    /// The largest relative error of the gradients that passes (looser: an activation
    /// within rounding of LeakyReLU's kink takes another slope on another device).
    #[arg(long, default_value_t = 5e-2)]
    gradient_tolerance: f64,
}

/// Runs `metapseudo devices`.
pub fn run(args: DevicesArgs) -> Result<()> {
    let (check, model, batch) = (args.check.as_deref(), args.model.as_deref(), args.batch);
    let (tolerance, gradient_tolerance) = (args.tolerance, args.gradient_tolerance);
    use metapseudo::device::{self, DeviceName};
    use metapseudo::parity;
    let Some(name) = check else {
        for name in DeviceName::EACH_BACKEND {
            let state = match name.missing_feature() {
                Some(feature) => format!("not in this build (cargo feature `{feature}`)"),
                None => match device::open(&name.to_string()) {
                    Ok(_) => "opens".to_string(),
                    Err(e) => format!("built, does not open: {e:#}"),
                },
            };
            println!("{:<7} {state}", name.to_string());
        }
        return Ok(());
    };
    let device = device::open(name)?;
    println!(
        "{:<10} {:>11} {:>11} {:>11} {:>19}  (relative errors against the cpu, batch {batch})",
        "model", "eval logits", "train logits", "gradients", "loss cpu / device"
    );
    let cell = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2e}"));
    let mut failed = Vec::new();
    let models: Vec<&str> = match model {
        Some(m) => vec![m],
        None => metapseudo::models::MODELS
            .iter()
            .map(|(n, _)| n.as_str())
            .collect(),
    };
    for model in models {
        let p = parity::check_model(model, &device, batch)?;
        let loss = p
            .loss
            .map_or("-".into(), |(a, b)| format!("{a:.5} / {b:.5}"));
        let passes = p.passes(tolerance, gradient_tolerance);
        let verdict = if passes { "ok" } else { "MISMATCH" };
        println!(
            "{:<10} {:>11} {:>11} {:>11} {:>19}  {verdict}{}",
            p.model,
            cell(Some(p.eval_logits)),
            cell(p.train_logits),
            cell(p.gradients),
            loss,
            if p.gradients.is_none() {
                " (dropout: evaluation mode only)"
            } else {
                ""
            }
        );
        if !passes {
            failed.push(p.model);
        }
    }
    if !failed.is_empty() {
        bail!(
            "{name} differs from the cpu by more than {tolerance} (logits) or {gradient_tolerance} (gradients) on: {}",
            failed.join(", ")
        );
    }
    Ok(())
}

//! `metapseudo presets`, `methods` and `options`: what a user can choose from.

use anyhow::Result;
use clap::Args;
use metapseudo::config::options;
use metapseudo::config::presets::PRESETS;
use metapseudo::methods::REGISTRY;

/// Runs `metapseudo presets`.
pub fn presets() -> Result<()> {
    let width = PRESETS
        .iter()
        .map(|(n, _)| n.as_str().len())
        .max()
        .unwrap_or(0);
    for (name, about) in PRESETS {
        println!("{:<width$}  {about}", name.as_str());
    }
    Ok(())
}

/// Runs `metapseudo methods`.
pub fn methods() -> Result<()> {
    let width = REGISTRY
        .iter()
        .map(|s| s.name.as_str().len())
        .max()
        .unwrap_or(0);
    for spec in REGISTRY {
        println!("{:<width$}  {}", spec.name.as_str(), spec.about);
    }
    println!(
        "\nEach method, its options and the choices on which the papers disagree: docs/methods.md"
    );
    Ok(())
}

/// `metapseudo options`' arguments.
#[derive(Args)]
pub struct OptionsArgs {
    /// Print the Markdown of docs/options.md instead of a plain list.
    #[arg(long)]
    markdown: bool,
}

/// Runs `metapseudo options`.
pub fn options(args: OptionsArgs) -> Result<()> {
    let list = options::reference();
    if args.markdown {
        print!("{}", options::markdown(&list));
    } else {
        print!("{}", options::text(&list));
    }
    Ok(())
}

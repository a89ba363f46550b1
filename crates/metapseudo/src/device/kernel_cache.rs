//! CubeCL's on-disk caches for the GPU backends. A fresh process compiles and tunes an image
//! network's kernels for minutes before its first step ends (BENCHMARKS.md, GPU section); with
//! the compiled kernels (CUDA's PTX) and the autotune results kept on disk, the next run on the
//! same machine and build starts from them. CubeCL keeps them under the enclosing Cargo
//! workspace's `target/environment`, or outside one in the user's cache directory
//! (`~/.cache/cubecl` on Linux).

use std::path::Path;

/// CubeCL's own configuration files, which it reads whole.
const CUBECL_FILES: [&str; 2] = ["cubecl.toml", "CubeCL.toml"];

/// Burn's configuration files, of which CubeCL reads only the `[cubecl]` table.
const BURN_FILES: [&str; 2] = ["burn.toml", "Burn.toml"];

/// Whether `dir` or one of its parents holds a configuration CubeCL would read: a
/// `cubecl.toml`, or a `burn.toml` with a `[cubecl]` table (one without it configures other
/// parts of Burn, and CubeCL walks past it).
pub fn config_file_above(dir: &Path) -> bool {
    dir.ancestors().any(|d| {
        CUBECL_FILES.iter().any(|name| d.join(name).is_file())
            || BURN_FILES
                .iter()
                .any(|name| has_cubecl_table(&d.join(name)))
    })
}

/// Whether the TOML file at `path` exists, parses and has a top-level `cubecl` key.
fn has_cubecl_table(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| toml::from_str::<toml::Table>(&text).ok())
        .is_some_and(|table| table.contains_key("cubecl"))
}

/// Turns on CubeCL's compiled-kernel cache (off by default in CubeCL; its autotune cache is on
/// by default) unless a CubeCL configuration file is in force, whose settings then stand, or
/// CubeCL's configuration was already read. Environment overrides (`CUBECL_*`) still apply.
#[cfg(feature = "cuda")]
pub fn enable() {
    use cubecl::config::{CubeClRuntimeConfig, RuntimeConfig};
    let configured = std::env::current_dir().is_ok_and(|dir| config_file_above(&dir));
    if !configured {
        let mut config = CubeClRuntimeConfig::default().override_from_env();
        config.compilation.cache = true;
        // `false` when already read: a device opened earlier in this process set it up.
        let _ = CubeClRuntimeConfig::try_set(config);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the temporary one, for one test.
    fn scratch(name: &str) -> std::path::PathBuf {
        let root =
            std::env::temp_dir().join(format!("mp-kernel-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("a").join("b")).unwrap();
        root
    }

    #[test]
    fn finds_a_configuration_file_in_a_parent() {
        let root = scratch("cubecl");
        let inner = root.join("a").join("b");
        // Whatever the temporary directory's own parents hold.
        let outside = config_file_above(&std::env::temp_dir());
        assert_eq!(config_file_above(&inner), outside);
        std::fs::write(root.join("a").join("cubecl.toml"), "").unwrap();
        assert!(config_file_above(&inner));
        assert_eq!(config_file_above(&root), outside);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_burn_toml_counts_only_with_a_cubecl_table() {
        let root = scratch("burn");
        let inner = root.join("a").join("b");
        let outside = config_file_above(&std::env::temp_dir());
        let burn = root.join("a").join("burn.toml");
        std::fs::write(&burn, "[fusion]\nenabled = true\n").unwrap();
        assert_eq!(config_file_above(&inner), outside, "no [cubecl] table");
        std::fs::write(&burn, "[cubecl\n").unwrap();
        assert_eq!(config_file_above(&inner), outside, "not TOML");
        std::fs::write(&burn, "[cubecl.compilation]\ncache = \"target\"\n").unwrap();
        assert!(config_file_above(&inner));
        std::fs::remove_file(&burn).unwrap();
        std::fs::write(root.join("a").join("Burn.toml"), "[cubecl]\n").unwrap();
        assert!(config_file_above(&inner));
        std::fs::remove_dir_all(&root).unwrap();
    }
}

//! CubeCL's on-disk caches for the GPU backends. A fresh process compiles and tunes an image
//! network's kernels for minutes before its first step ends (BENCHMARKS.md, GPU section); with
//! the compiled kernels (CUDA's PTX) and the autotune results kept on disk, the next run on the
//! same machine and build starts from them. CubeCL keeps them under the enclosing Cargo
//! workspace's `target/environment`, or outside one in the user's cache directory
//! (`~/.cache/cubecl` on Linux).

use std::path::Path;

/// The configuration files CubeCL reads, in the working directory or a parent.
const CONFIG_FILES: [&str; 4] = ["cubecl.toml", "CubeCL.toml", "burn.toml", "Burn.toml"];

/// Whether `dir` or one of its parents holds a CubeCL configuration file.
pub fn config_file_above(dir: &Path) -> bool {
    dir.ancestors()
        .any(|d| CONFIG_FILES.iter().any(|name| d.join(name).is_file()))
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

    #[test]
    fn finds_a_configuration_file_in_a_parent() {
        let root = std::env::temp_dir().join(format!("mp-kernel-cache-{}", std::process::id()));
        let inner = root.join("a").join("b");
        std::fs::create_dir_all(&inner).unwrap();
        // Whatever the temporary directory's own parents hold.
        let outside = config_file_above(&std::env::temp_dir());
        assert_eq!(config_file_above(&inner), outside);
        std::fs::write(root.join("a").join("cubecl.toml"), "").unwrap();
        assert!(config_file_above(&inner));
        assert_eq!(config_file_above(&root), outside);
        std::fs::remove_dir_all(&root).unwrap();
    }
}

//! The layers run one way: no top-level module of either crate imports, directly or through
//! others, a module that imports it back. A module's imports are its `crate::NAME` paths
//! outside test code (a file's `#[cfg(test)]` part, which comes last).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The `.rs` files below `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The top-level modules of the crate in `src` with their files (the crate roots aside).
fn modules(src: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            out.insert(name, rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs")
            && !matches!(name.as_str(), "lib" | "main")
        {
            out.insert(name, vec![path]);
        }
    }
    out
}

/// Module -> the modules it imports, each with a file that does.
fn imports(src: &Path) -> BTreeMap<String, BTreeMap<String, PathBuf>> {
    let modules = modules(src);
    let mut edges: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for (module, files) in &modules {
        for file in files {
            let text = std::fs::read_to_string(file).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap();
            for (i, _) in code.match_indices("crate::") {
                let rest = &code[i + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                    .collect();
                if &name != module && modules.contains_key(&name) {
                    edges
                        .entry(module.clone())
                        .or_default()
                        .entry(name)
                        .or_insert_with(|| file.clone());
                }
            }
        }
    }
    edges
}

/// A path of imports from `from` to `to`, if there is one.
fn path(
    edges: &BTreeMap<String, BTreeMap<String, PathBuf>>,
    from: &str,
    to: &str,
) -> Option<Vec<String>> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![vec![from.to_string()]];
    while let Some(trail) = stack.pop() {
        let last = trail.last().unwrap();
        if last == to {
            return Some(trail);
        }
        if !seen.insert(last.clone()) {
            continue;
        }
        for next in edges.get(last).into_iter().flat_map(|m| m.keys()) {
            let mut longer = trail.clone();
            longer.push(next.clone());
            stack.push(longer);
        }
    }
    None
}

#[test]
fn no_top_level_module_imports_one_that_imports_it_back() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut circles = Vec::new();
    for krate in ["metapseudo/src", "metapseudo-data/src"] {
        let edges = imports(&root.join(krate));
        assert!(edges.len() > 3, "{krate}: too few modules read");
        for (module, targets) in &edges {
            for (target, file) in targets {
                if let Some(back) = path(&edges, target, module) {
                    circles.push(format!(
                        "{krate}: {module} -> {target} ({}), and back: {}",
                        file.display(),
                        back.join(" -> ")
                    ));
                }
            }
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_check_finds_a_circle_when_there_is_one() {
    let dir = std::env::temp_dir().join(format!("metapseudo-layers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("b")).unwrap();
    std::fs::write(dir.join("a.rs"), "use crate::b::Thing;\n").unwrap();
    std::fs::write(dir.join("b/mod.rs"), "//! b\n").unwrap();
    std::fs::write(
        dir.join("b/inner.rs"),
        "fn f() { crate::a::g() }\n#[cfg(test)]\nuse crate::c;\n",
    )
    .unwrap();
    std::fs::write(dir.join("c.rs"), "use crate::a;\n").unwrap();
    let edges = imports(&dir);
    assert_eq!(path(&edges, "a", "b"), Some(vec!["a".into(), "b".into()]));
    assert!(path(&edges, "b", "a").is_some(), "{edges:?}");
    // Test code does not count: b's test import of c makes no edge.
    assert!(!edges["b"].contains_key("c"));
    std::fs::remove_dir_all(&dir).unwrap();
}

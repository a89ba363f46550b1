//! The options reference: every configuration key with its type, default and documentation,
//! read from the configuration's own source and defaults, so the list cannot go stale
//! (`metapseudo options`; `docs/options.md` is checked against it by a test).

use super::*;
use std::collections::HashMap;

/// The files that declare the configuration's structs.
const SOURCES: &[&str] = &[
    include_str!("mod.rs"),
    include_str!("../../../metapseudo-data/src/augment.rs"),
];

/// Options whose value is one of fixed names, by their Rust type.
const CHOICES: &[(&str, &[&str])] = &[
    ("MethodName", MethodName::NAMES),
    ("ModelName", ModelName::NAMES),
    ("Normalize", Normalize::NAMES),
    ("CsvHeader", CsvHeader::NAMES),
    ("Cifar100Label", Cifar100Label::NAMES),
    ("Padding", Padding::NAMES),
    ("Activation", Activation::NAMES),
    ("InitScheme", InitScheme::NAMES),
    ("ReportedModel", ReportedModel::NAMES),
    ("TieRule", TieRule::NAMES),
    ("StageTieRule", StageTieRule::NAMES),
    ("ScheduleKind", ScheduleKind::NAMES),
    ("FeedbackSign", FeedbackSign::NAMES),
    ("StudentTargetName", StudentTargetName::NAMES),
    ("ViewName", ViewName::NAMES),
    ("UnlabeledLoss", UnlabeledLoss::NAMES),
    ("MetasemiConsistency", MetasemiConsistency::NAMES),
    ("ValidationSource", ValidationSource::NAMES),
    ("FinetuneFrom", FinetuneFrom::NAMES),
    ("PresetName", PresetName::NAMES),
    ("PolicyName", metapseudo_data::policy::PolicyName::NAMES),
];

/// One configuration key.
#[derive(Clone, Debug, PartialEq)]
pub struct OptionDoc {
    /// The dotted key, as `--set` and TOML sections spell it.
    pub key: String,
    /// What kind of value it takes.
    pub kind: String,
    /// Its default, as TOML (before any preset).
    pub default: String,
    /// Its documentation, on one line.
    pub about: String,
}

/// A struct's fields in declaration order: (name, Rust type, documentation).
type Fields = Vec<(String, String, String)>;

/// Every `pub struct` of the sources with its documented fields.
fn structs() -> HashMap<String, Fields> {
    let mut out = HashMap::new();
    for source in SOURCES {
        let mut current: Option<(String, Fields)> = None;
        let mut doc: Vec<String> = Vec::new();
        for line in source.lines().map(str::trim) {
            if let Some(name) = line
                .strip_prefix("pub struct ")
                .and_then(|s| s.strip_suffix(" {"))
            {
                current = Some((name.to_string(), Vec::new()));
                doc.clear();
            } else if let Some((_, fields)) = &mut current {
                if line == "}" {
                    let (name, fields) = current.take().expect("inside a struct");
                    out.insert(name, fields);
                } else if let Some(d) = line.strip_prefix("///") {
                    doc.push(d.trim().to_string());
                } else if let Some((name, ty)) = line
                    .strip_prefix("pub ")
                    .and_then(|f| f.strip_suffix(','))
                    .and_then(|f| f.split_once(": "))
                {
                    fields.push((name.to_string(), ty.to_string(), doc.join(" ")));
                    doc.clear();
                } else if !line.starts_with("#[") {
                    doc.clear();
                }
            }
        }
    }
    out
}

/// The kind of value a field of Rust type `ty` takes, `None` for a type this list does not
/// know (a test keeps that from happening).
fn kind(ty: &str) -> Option<String> {
    Some(match ty {
        "String" => "string".into(),
        "usize" | "u64" | "u32" | "u8" => "integer".into(),
        "f64" | "f32" => "number".into(),
        "bool" => "boolean".into(),
        "Vec<String>" => "list of strings".into(),
        "Vec<u64>" | "Vec<usize>" => "list of integers".into(),
        "RoleSwap" => "`off`, `epoch` or a number of steps".into(),
        "DataSpec" => format!("data: {}", metapseudo_data::spec::valid_specs()),
        other => {
            let (_, names) = CHOICES.iter().find(|(name, _)| *name == other)?;
            let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            format!("one of {}", names.join(", ").replace("``", "`\"\"`"))
        }
    })
}

/// Every key of the configuration, section by section in declaration order.
pub fn reference() -> Vec<OptionDoc> {
    let structs = structs();
    let defaults = toml::Value::try_from(Config::default()).expect("the defaults serialise");
    let mut out = Vec::new();
    walk(&structs, "Config", "", &defaults, &mut out);
    out
}

fn walk(
    structs: &HashMap<String, Fields>,
    name: &str,
    prefix: &str,
    defaults: &toml::Value,
    out: &mut Vec<OptionDoc>,
) {
    for (field, ty, about) in &structs[name] {
        let key = format!("{prefix}{field}");
        let default = defaults.get(field);
        if structs.contains_key(ty.as_str()) {
            let empty = toml::Value::Table(Default::default());
            walk(
                structs,
                ty,
                &format!("{key}."),
                default.unwrap_or(&empty),
                out,
            );
            continue;
        }
        let default = match default {
            // f32 options serialise through f64: show the value as written.
            Some(toml::Value::Float(x)) if ty == "f32" => (*x as f32).to_string(),
            Some(v) => v.to_string(),
            None => "(none)".to_string(),
        };
        out.push(OptionDoc {
            kind: kind(ty).unwrap_or_else(|| format!("({ty})")),
            default,
            key,
            about: about.clone(),
        });
    }
}

/// The list as plain text: the key, its kind and default on one line, its meaning below.
pub fn text(list: &[OptionDoc]) -> String {
    list.iter()
        .map(|o| {
            format!(
                "{}  ({}, default {})\n    {}\n",
                o.key, o.kind, o.default, o.about
            )
        })
        .collect()
}

/// The list as the Markdown of `docs/options.md`: one table per section.
pub fn markdown(list: &[OptionDoc]) -> String {
    let mut s = String::from(
        "# Options\n\nEvery configuration key with its type, its default before any preset, and its meaning.\nSet one with `--set KEY=VALUE`, in a `--config` TOML file, or through a preset\n(`metapseudo presets`). Generated by `metapseudo options --markdown`; a test keeps it current.\n",
    );
    let mut section = Some("(start)");
    for o in list {
        let this = o.key.split_once('.').map(|(s, _)| s);
        if this != section {
            section = this;
            s.push_str(&format!(
                "\n## {}\n\n| key | type | default | meaning |\n|---|---|---|---|\n",
                this.unwrap_or("top level")
            ));
        }
        s.push_str(&format!(
            "| `{}` | {} | `{}` | {} |\n",
            o.key,
            o.kind,
            o.default.replace('|', "\\|"),
            o.about.replace('|', "\\|")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_a_known_kind_a_default_and_a_meaning() {
        let list = reference();
        assert!(list.len() > 100, "{}", list.len());
        for o in &list {
            assert!(
                !o.kind.starts_with('('),
                "{}: unknown type {}",
                o.key,
                o.kind
            );
            assert_ne!(o.default, "(none)", "{}", o.key);
            assert!(!o.about.is_empty(), "{} has no documentation", o.key);
        }
        let method = list.iter().find(|o| o.key == "method").unwrap();
        assert!(method.kind.contains("reduced-mpl") && method.default == "\"mpl\"");
        let lr = list.iter().find(|o| o.key == "student_optim.lr").unwrap();
        assert_eq!(lr.default, "0.05");
        assert!(list.iter().any(|o| o.key == "augment.strong.noise_std"));
    }

    #[test]
    fn docs_options_md_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/options.md");
        let written = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            written == markdown(&reference()),
            "docs/options.md is out of date: regenerate it with `cargo run --release -- options --markdown > docs/options.md`"
        );
    }
}

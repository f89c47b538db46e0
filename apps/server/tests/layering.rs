//! The dependency rule of docs/ARCHITECTURE.md, checked on the real workspace:
//! `apps/* -> modules/* -> kernel`; a module never depends on another module, and the
//! kernel neither depends on nor names any module.

use std::path::Path;
use std::process::Command;

fn metadata() -> serde_json::Value {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("metadata JSON")
}

/// `(crate name, manifest directory)` of every crate under `modules/`.
fn module_crates(meta: &serde_json::Value) -> Vec<(String, String)> {
    meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| {
            let manifest = p["manifest_path"].as_str()?;
            manifest.contains("/modules/").then(|| {
                (
                    p["name"].as_str().unwrap_or_default().to_string(),
                    manifest.to_string(),
                )
            })
        })
        .collect()
}

#[test]
fn no_module_depends_on_another_and_the_kernel_on_none() {
    let meta = metadata();
    let modules = module_crates(&meta);
    assert!(modules.len() >= 4, "{modules:?}");
    for package in meta["packages"].as_array().expect("packages") {
        let name = package["name"].as_str().unwrap_or_default();
        if !modules.iter().any(|(m, _)| m == name) {
            continue;
        }
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let dep = dep["name"].as_str().unwrap_or_default();
            let is_module = modules.iter().any(|(m, _)| m == dep);
            assert!(
                !is_module || dep == "shopops-kernel",
                "{name} depends on the module {dep}: what two modules share belongs in the kernel"
            );
            if name == "shopops-kernel" {
                assert!(!is_module, "the kernel depends on the module {dep}");
            }
        }
    }
}

#[test]
fn the_kernel_names_no_module() {
    let meta = metadata();
    let names: Vec<String> = module_crates(&meta)
        .into_iter()
        .map(|(name, _)| name.trim_start_matches("shopops-").to_string())
        .filter(|n| n != "kernel")
        .collect();
    let root = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../modules/kernel/src"
    ));
    let mut found = Vec::new();
    visit(root, &mut |path, text| {
        for (i, line) in text.lines().enumerate() {
            // HTTP's own status names are not the gateway module.
            let lower = line
                .to_lowercase()
                .replace("bad gateway", "")
                .replace("gateway timeout", "");
            for module in &names {
                let words = lower
                    .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                    .any(|w| w == module || w == module.replace('-', "_"));
                if words {
                    found.push(format!("{}:{}: {line}", path.display(), i + 1));
                }
            }
        }
    });
    assert!(
        found.is_empty(),
        "the kernel names a module:\n{}",
        found.join("\n")
    );
}

fn visit(dir: &Path, f: &mut impl FnMut(&Path, &str)) {
    for entry in std::fs::read_dir(dir)
        .expect("read kernel sources")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            visit(&path, f);
        } else if path.extension().is_some_and(|e| e == "rs") {
            f(&path, &std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
}

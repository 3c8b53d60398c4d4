//! The Dockerfile's build stage builds the web UI (Node in the build stage) and the
//! binary. Where a Docker daemon answers, `docker build --target build` proves it. Where
//! none runs (CI and development machines here), the stage's steps run in a plain shell on
//! this Debian machine, each as close to the image as a shell gets:
//!
//! - `FROM rust:X-bookworm`: X is at least the workspace's `rust-version`;
//! - `RUN apt-get ... install P...`: not run (root, network); every P must exist in this
//!   machine's Debian lists, and together with the base image they must cover
//!   `scripts/deps/run.txt` (what building needs);
//! - `WORKDIR`, `COPY`, `ENV`: a scratch directory stands for the image's filesystem (the
//!   stage's own top-level directories, `/src` and `/out`, map into it; COPY copies the
//!   repository's tracked files);
//! - every other `RUN` runs with `sh -ec` there, with a PATH holding only the commands of
//!   the base image and of the packages the stage installs: the commands of the packages
//!   of `scripts/deps/run.txt` it does not install (node, npm, protoc, ...) are hidden, so
//!   a step that needs a tool the stage forgot fails as it would in `docker build`. npm
//!   reads its cache only (the UI's test build filled it), so nothing leaves the machine;
//! - the cargo step is not run: a release build from scratch takes ~40 minutes on the
//!   2-core CI machine, and this crate's own test build compiles the same binary from the
//!   same sources. Its command is checked instead: `--locked` holds (`cargo tree
//!   --locked --offline`), the `--bin` exists, and `TELLTALE_UI_DIST` names what the UI
//!   step built.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// One instruction: keyword and its arguments (continuations joined, comments dropped).
#[derive(Debug, Clone)]
struct Instruction {
    keyword: String,
    args: String,
}

/// The stages of a Dockerfile by name (`AS name`, else their index).
fn stages(text: &str) -> BTreeMap<String, Vec<Instruction>> {
    let mut logical: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                logical.push(std::mem::take(&mut current));
            }
        }
    }
    let mut out: BTreeMap<String, Vec<Instruction>> = BTreeMap::new();
    let mut name = String::new();
    for (i, l) in logical.iter().enumerate() {
        let (keyword, args) = l.split_once(' ').unwrap_or((l, ""));
        let keyword = keyword.to_ascii_uppercase();
        let args = args.split_whitespace().collect::<Vec<_>>().join(" ");
        if keyword == "FROM" {
            name = match args.to_ascii_lowercase().split_once(" as ") {
                Some((_, n)) => n.trim().to_string(),
                None => i.to_string(),
            };
        }
        out.entry(name.clone())
            .or_default()
            .push(Instruction { keyword, args });
    }
    out
}

/// The package names of a `scripts/deps/*.txt` list.
fn package_list(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(REPO).join("scripts/deps").join(name)).unwrap();
    text.lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The packages an `apt-get ... install ...` command line installs.
fn apt_packages(run: &str) -> Vec<String> {
    run.split("&&")
        .filter_map(|c| c.trim().strip_prefix("apt-get"))
        .filter_map(|c| c.split_once(" install ").map(|(_, p)| p))
        .flat_map(|p| p.split_whitespace())
        .filter(|w| !w.starts_with('-'))
        .map(str::to_string)
        .collect()
}

/// What the Rust image's base (buildpack-deps) has already.
const BASE_IMAGE_PACKAGES: &[&str] = &["build-essential"];

/// `major.minor` of a version string.
fn minor_version(v: &str) -> (u32, u32) {
    let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap());
    (parts.next().unwrap(), parts.next().unwrap_or(0))
}

/// The commands an installed Debian package put on the PATH, by name.
fn package_commands(package: &str) -> BTreeSet<String> {
    let out = Command::new("dpkg").args(["-L", package]).output().unwrap();
    if !out.status.success() {
        return BTreeSet::new();
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(Path::new)
        .filter(|p| {
            p.parent().and_then(Path::to_str).is_some_and(|d| {
                ["/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin"].contains(&d)
            })
        })
        .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
        .collect()
}

/// A directory of links to every command on this machine except `hidden`.
fn restricted_bin(dir: &Path, hidden: &BTreeSet<String>) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for from in ["/usr/local/bin", "/usr/local/sbin", "/usr/bin", "/usr/sbin"] {
        let Ok(entries) = std::fs::read_dir(from) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let link = bin.join(&name);
            if hidden.contains(&name) || link.symlink_metadata().is_ok() {
                continue;
            }
            std::os::unix::fs::symlink(e.path(), link).unwrap();
        }
    }
    bin
}

/// The stage's own top-level directories (not the system's) named in `text`.
fn stage_roots(text: &str, roots: &mut BTreeSet<String>) {
    const SYSTEM: &[&str] = &[
        "bin", "boot", "dev", "etc", "home", "lib", "lib64", "opt", "proc", "root", "run", "sbin",
        "sys", "tmp", "usr", "var",
    ];
    for (i, _) in text.match_indices('/') {
        let before = text[..i].chars().last();
        if !matches!(before, None | Some(' ' | '=' | ':')) {
            continue;
        }
        let first: String = text[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            .collect();
        if !first.is_empty() && !SYSTEM.contains(&first.as_str()) {
            roots.insert(format!("/{first}"));
        }
    }
}

/// `text` with the stage's directories mapped into `sandbox`.
fn map_paths(text: &str, roots: &BTreeSet<String>, sandbox: &Path) -> String {
    let mut out = text.to_string();
    for root in roots {
        let to = format!("{}{root}", sandbox.display());
        for sep in [" ", "=", ":"] {
            out = out.replace(&format!("{sep}{root}/"), &format!("{sep}{to}/"));
            out = out.replace(&format!("{sep}{root} "), &format!("{sep}{to} "));
        }
        if out.starts_with(&format!("{root}/")) || out == *root {
            out = format!("{}{}", sandbox.display(), out);
        }
        if out.ends_with(&format!(" {root}")) {
            out = format!("{}{}", &out[..out.len() - root.len()], to);
        }
    }
    out
}

/// The repository's tracked files under `src` (a path relative to the repository).
fn tracked_files(src: &str) -> Vec<String> {
    let out = Command::new("git")
        .args(["ls-files", "-z", "--", src])
        .current_dir(REPO)
        .output()
        .expect("git lists the repository's files");
    assert!(out.status.success(), "git ls-files failed");
    String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect()
}

fn docker_runs() -> bool {
    Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn the_build_stage_builds_the_ui_and_the_binary() {
    let text = std::fs::read_to_string(Path::new(REPO).join("Dockerfile")).unwrap();
    let stages = stages(&text);
    let build = stages
        .get("build")
        .expect("the Dockerfile has a stage `AS build`");

    if docker_runs() {
        let out = Command::new("docker")
            .args([
                "build",
                "--target",
                "build",
                "-t",
                "telltale-build-check",
                REPO,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docker build --target build:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    eprintln!("no Docker daemon: running the build stage's steps in a plain shell");

    // FROM: a Rust image new enough for the workspace.
    let from = &build[0];
    let image = from.args.split_whitespace().next().unwrap();
    let tag = image
        .strip_prefix("rust:")
        .unwrap_or_else(|| panic!("the build stage starts from a Rust image, not {image}"));
    let manifest = std::fs::read_to_string(Path::new(REPO).join("Cargo.toml")).unwrap();
    let needed = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .expect("rust-version in Cargo.toml")
        .trim_matches('"');
    let version = tag.split('-').next().unwrap();
    assert!(
        minor_version(version) >= minor_version(needed),
        "{image} is older than the workspace's rust-version {needed}"
    );

    // The packages the stage installs exist in Debian and cover what building needs.
    let installs: Vec<String> = build
        .iter()
        .filter(|i| i.keyword == "RUN" && i.args.contains("apt-get"))
        .flat_map(|i| apt_packages(&i.args))
        .collect();
    for p in &installs {
        let known = Command::new("apt-cache")
            .args(["show", "--no-all-versions", p])
            .output()
            .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
        assert!(
            known,
            "the build stage installs {p}, which Debian does not have"
        );
    }
    let run_deps = package_list("run.txt");
    let missing: Vec<&String> = run_deps
        .iter()
        .filter(|p| !installs.contains(p) && !BASE_IMAGE_PACKAGES.contains(&p.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "the build stage does not install {missing:?} (scripts/deps/run.txt)"
    );

    // The other steps in order, in a scratch directory standing for the image; a step
    // sees the commands of the packages installed before it.
    let scratch = tempfile::tempdir().unwrap();
    let sandbox = scratch.path().join("image");
    let mut installed: Vec<String> = Vec::new();
    let home = std::env::var("HOME").unwrap();
    let mut roots = BTreeSet::new();
    for i in build {
        stage_roots(&i.args, &mut roots);
    }
    let mut workdir = sandbox.clone();
    let mut env: Vec<(String, String)> = Vec::new();
    let mut ran = Vec::new();
    let mut cargo_step = None;
    for i in &build[1..] {
        match i.keyword.as_str() {
            "WORKDIR" => {
                workdir = PathBuf::from(map_paths(&i.args, &roots, &sandbox));
                std::fs::create_dir_all(&workdir).unwrap();
            }
            "COPY" => {
                let parts: Vec<&str> = i.args.split_whitespace().collect();
                assert!(
                    !parts.iter().any(|p| p.starts_with("--from")),
                    "COPY --from in the build stage: {}",
                    i.args
                );
                let (dst, srcs) = parts.split_last().unwrap();
                let dst = workdir.join(dst);
                for src in srcs {
                    let src = src.trim_end_matches('/');
                    for f in tracked_files(src) {
                        let rel = if src == "." {
                            f.clone()
                        } else {
                            f.strip_prefix(&format!("{src}/")).unwrap().to_string()
                        };
                        let to = dst.join(rel);
                        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                        std::fs::copy(Path::new(REPO).join(&f), to).unwrap();
                    }
                }
            }
            "ENV" => {
                let (k, v) = i.args.split_once('=').expect("ENV KEY=value");
                env.push((k.to_string(), map_paths(v, &roots, &sandbox)));
            }
            "RUN" if i.args.contains("apt-get") => installed.extend(apt_packages(&i.args)),
            "RUN" if i.args.contains("cargo build") => cargo_step = Some(i.args.clone()),
            "RUN" => {
                let command = i
                    .args
                    .split_whitespace()
                    .skip_while(|w| w.starts_with("--mount") || w.starts_with("--network"))
                    .collect::<Vec<_>>()
                    .join(" ");
                let command = map_paths(&command, &roots, &sandbox);
                let hidden: BTreeSet<String> = run_deps
                    .iter()
                    .filter(|p| !installed.contains(p))
                    .flat_map(|p| package_commands(p))
                    .collect();
                let bins = scratch.path().join(format!("step-{}", ran.len()));
                let path = format!(
                    "{}:{home}/.cargo/bin",
                    restricted_bin(&bins, &hidden).display()
                );
                let out = Command::new("/bin/sh")
                    .args(["-ec", &command])
                    .current_dir(&workdir)
                    .env_clear()
                    .env("PATH", &path)
                    .env("HOME", &home)
                    .env("npm_config_offline", "true")
                    .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "RUN {command}\nfailed with only the stage's tools on the PATH (hidden: \
                     {hidden:?}):\n{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                ran.push(command);
            }
            other => panic!("the build stage has a {other} step this check does not know"),
        }
    }
    assert!(
        ran.iter().any(|c| c.contains("npm")),
        "no step of the build stage builds the UI with npm: {ran:?}"
    );

    // What the UI step built is what the cargo step embeds.
    let dist = env
        .iter()
        .find(|(k, _)| k == "TELLTALE_UI_DIST")
        .map(|(_, v)| PathBuf::from(v))
        .expect("the build stage sets TELLTALE_UI_DIST for ui/build.rs");
    let index = std::fs::read_to_string(dist.join("index.html"))
        .unwrap_or_else(|e| panic!("{}/index.html: {e}", dist.display()));
    for asset in index
        .split('"')
        .filter(|s| s.starts_with("assets/") || s.starts_with("/assets/"))
    {
        assert!(
            dist.join(asset.trim_start_matches('/')).is_file(),
            "index.html names {asset}, which the UI step did not build"
        );
    }

    // The cargo step: locked, and its binary exists.
    let cargo_step = cargo_step.expect("the build stage runs cargo build");
    assert!(cargo_step.contains("--locked"), "{cargo_step}");
    let bin_name = cargo_step
        .split_whitespace()
        .skip_while(|w| *w != "--bin")
        .nth(1)
        .expect("cargo build --bin NAME");
    assert!(
        manifest.contains(&format!("name = \"{bin_name}\"")),
        "no binary {bin_name}"
    );
    let out = Command::new("cargo")
        .args([
            "tree",
            "--workspace",
            "--locked",
            "--offline",
            "--depth",
            "0",
        ])
        .current_dir(REPO)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo tree --locked: Cargo.lock is not current:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn parsing_joins_continuations_and_names_stages() {
    let s = stages(
        "# c\nFROM a:1 AS one\nRUN x \\\n # inner comment\n y\nFROM b AS two\nENV K=/out/v\n",
    );
    assert_eq!(s["one"][1].args, "x y");
    assert_eq!(s["two"][1].keyword, "ENV");
    assert_eq!(
        apt_packages("apt-get update && apt-get install -y --no-install-recommends p q && rm x"),
        ["p", "q"]
    );
    let mut roots = BTreeSet::new();
    stage_roots(
        "cd ui && npm run build -- --outdir /out/ui && ls /usr/lib",
        &mut roots,
    );
    assert_eq!(roots, BTreeSet::from(["/out".to_string()]));
    assert_eq!(
        map_paths("--outdir /out/ui", &roots, Path::new("/t")),
        "--outdir /t/out/ui"
    );
    assert_eq!(map_paths("/out/ui", &roots, Path::new("/t")), "/t/out/ui");
}

//! Rebuilds when a migration is added (`sqlx::migrate!` embeds the folder at compile time), and
//! gives `ctid --version` the commit it was built from (`unknown` outside a git checkout).

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=CTID_GIT_COMMIT={commit}");
    // A new commit moves HEAD or the branch it names; only existing files are watched (a
    // missing one would run this script at every build).
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    let watched = [Some("HEAD".to_string()), branch].into_iter().flatten();
    for path in watched.filter_map(|name| git(&["rev-parse", "--git-path", &name])) {
        if Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}

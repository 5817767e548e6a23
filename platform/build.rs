//! Records the git commit and the build time for `actuator/info`.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    // Container builds have no .git: they pass the commit in this variable instead.
    println!("cargo:rerun-if-env-changed=STOREFRONT_GIT_COMMIT");
    println!("cargo:rerun-if-changed=../.git/HEAD");
    println!("cargo:rerun-if-changed=../.git/refs/heads");
    let commit = std::env::var("STOREFRONT_GIT_COMMIT")
        .ok()
        .or_else(|| {
            let output = Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()?;
            output
                .status
                .success()
                .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let built = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0);
    println!("cargo:rustc-env=STOREFRONT_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=STOREFRONT_BUILD_EPOCH_SECONDS={built}");
}

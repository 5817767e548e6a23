//! The processes tests start and signal: the local servers' launchers and the Python tools.

use std::path::PathBuf;
use std::process::Command;

/// A script of `dev/` (the local servers' launchers).
pub(crate) fn dev_script(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../dev")).join(name)
}

/// Sends a signal (`STOP`, `CONT`, `KILL`, `TERM`) to a process, as `kill -<signal>` does.
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("running kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// The executable `name` in the Python environment `scripts/setup.sh --test` installs the test
/// tools into: `$STOREFRONT_TOOLS_DIR/venv/bin`, `~/.local/share/storefront/venv/bin`
/// by default.
pub fn python_tool(name: &str) -> String {
    let tools = std::env::var("STOREFRONT_TOOLS_DIR").unwrap_or_else(|_| {
        format!(
            "{}/.local/share/storefront",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    format!("{tools}/venv/bin/{name}")
}

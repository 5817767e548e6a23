//! The processes tests start and signal: the local servers' launchers and the Python tools.

use std::path::PathBuf;
use std::process::Command;

/// A script of `dev/` (the local servers' launchers).
pub(crate) fn dev_script(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../dev")).join(name)
}

/// The fields of a `/proc/PID/stat` line from the third, the state, on: the command name before
/// them is in parentheses and may itself hold spaces and parentheses.
pub(crate) fn proc_stat_fields(stat: &str) -> Option<std::str::SplitWhitespace<'_>> {
    let (_, after_name) = stat.rsplit_once(')')?;
    Some(after_name.split_whitespace())
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

/// Where `scripts/setup.sh --test` installs the test tools: `$STOREFRONT_TOOLS_DIR`,
/// `~/.local/share/storefront` by default.
fn tools_dir() -> String {
    std::env::var("STOREFRONT_TOOLS_DIR").unwrap_or_else(|_| {
        format!(
            "{}/.local/share/storefront",
            std::env::var("HOME").unwrap_or_default()
        )
    })
}

/// The executable `name` in the Python environment of the test tools (`venv/bin`).
pub fn python_tool(name: &str) -> String {
    format!("{}/venv/bin/{name}", tools_dir())
}

/// The Python of the data lake's own environment (`lake/venv`, PyIceberg), which runs
/// `scripts/lake.py`.
pub fn lake_python() -> String {
    format!("{}/lake/venv/bin/python", tools_dir())
}

/// The folder of the npm test tools (`npm-tools`), for `node` to resolve them from.
pub fn npm_tools() -> String {
    format!("{}/npm-tools", tools_dir())
}

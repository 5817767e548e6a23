//! The Python tools the tests run (openapi-spec-validator, schemathesis), from the environment
//! `scripts/setup.sh` installs them into.

/// The executable `name` in the tools' Python environment: `$STOREFRONT_TOOLS_DIR/venv/bin`,
/// `~/.local/share/storefront/venv/bin` by default.
pub fn python_tool(name: &str) -> String {
    let tools = std::env::var("STOREFRONT_TOOLS_DIR").unwrap_or_else(|_| {
        format!(
            "{}/.local/share/storefront",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    format!("{tools}/venv/bin/{name}")
}

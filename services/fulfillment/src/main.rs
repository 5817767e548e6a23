use fulfillment::{configuration, startup::Application};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::telemetry::init();
    let settings = configuration::load()?;
    let application = Application::build(settings).await?;
    application.run_until_stopped().await
}

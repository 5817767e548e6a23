use fulfillment::{configuration, startup};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = configuration::load()?;
    let application = startup::build(settings).await?;
    application.run_until_stopped().await
}

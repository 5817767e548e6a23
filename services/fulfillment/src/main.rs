use fulfillment::{configuration, startup};

fn main() -> anyhow::Result<()> {
    platform::lifecycle::run(async {
        let settings = configuration::load()?;
        let application = startup::build(settings).await?;
        application.run_until_stopped().await
    })
}

//! `sportello bench`: seeds a large database and measures the figures of docs/performance.md.

use clap::Args;

/// Options of `bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Tickets to seed before measuring.
    #[arg(long, default_value_t = 1_000_000)]
    pub tickets: u64,
}

/// Runs the benchmark.
pub async fn run(_database_url: &str, _args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("the benchmark is not written yet")
}

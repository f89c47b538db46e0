//! `shopops`: the ShopOps server and its operator commands.

use shopops::cli;

fn main() -> std::process::ExitCode {
    let args = cli::command().get_matches();
    shopops_kernel::outside::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    runtime.block_on(cli::run(args))
}

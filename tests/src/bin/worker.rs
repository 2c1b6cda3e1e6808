//! The worker the end-to-end tests run: the `sluice` command line, built in
//! this package so tests can locate it.

fn main() -> std::process::ExitCode {
    sluice::cli::main()
}

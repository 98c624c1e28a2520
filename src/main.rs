//! The `ork` binary: everything is in [`cli`], on top of the `ork` library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}

//! The `sportello` command.

fn main() -> std::process::ExitCode {
    sportello::main()
}

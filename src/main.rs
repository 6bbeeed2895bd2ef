fn main() -> std::process::ExitCode {
    ctid::cli::main()
}

fn main() -> std::process::ExitCode {
    auditpack::cli::main()
}

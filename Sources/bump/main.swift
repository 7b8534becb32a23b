import BumpCLI

// Everything `bump` does lives in BumpCLI, where tests reach it in process.
BumpCommand.main()

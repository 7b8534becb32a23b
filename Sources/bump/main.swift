import BumpCLI

#if MPI
  import BumpKitMPI
  import Foundation

  // Started by `mpirun` (Open MPI sets OMPI_COMM_WORLD_SIZE): one process of a group that
  // trains one model together.
  if ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil {
    do {
      let world = try MPIWorld.start()
      Processes.start(world, end: { try? world.end() })
    } catch {
      FileHandle.standardError.write(Data("Error: MPI did not start: \(error)\n".utf8))
      exit(1)
    }
  }
#endif

// Everything `bump` does lives in BumpCLI, where tests reach it in process.
BumpCommand.main()

// The `munet` executable: a thin shell over MuNetCLI.
//
// This file is compiled for the baseline CPU so that the check below runs before any engine
// code (compiled for AVX2 + FMA, see Package.swift) can execute an instruction the CPU lacks.
import CMuNetSupport
import MuNetCLI


if munet_cpu_has_avx2_fma() == 0 && !MuNetBuild.isPortable {
  let message = """
    munet: this CPU lacks AVX2/FMA, which this build of munet was compiled for.
    Rebuild with MUNET_PORTABLE=1 (same bits, slower): MUNET_PORTABLE=1 swift build -c release

    """
  munet_exit_with_message(message, 70)
}
MuNetCommand.main()

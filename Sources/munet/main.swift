// The `munet` executable: a thin shell over MuNetCLI.
//
// This file is compiled for the baseline CPU so that the check below runs before any engine
// code (compiled for AVX-512 or AVX2 + FMA, see Package.swift) can execute an instruction
// the CPU lacks.
import CMuNetSupport
import MuNetCLI


#if MUNET_CPU_AVX512
let cpuSupported = munet_cpu_has_avx512() != 0
let cpuNeeded = "AVX-512 (F/CD/BW/DQ/VL)"
#elseif MUNET_CPU_HASWELL
let cpuSupported = munet_cpu_has_avx2_fma() != 0
let cpuNeeded = "AVX2/FMA (haswell)"
#else
let cpuSupported = true
let cpuNeeded = "nothing"
#endif
if !cpuSupported {
  let message = """
    munet: this CPU lacks \(cpuNeeded), which this build of munet was compiled for.
    Rebuild on this machine (swift build -c release picks the level of the building CPU), or
    choose a level: MUNET_CPU=haswell or MUNET_CPU=portable swift build -c release (same bits).

    """
  munet_exit_with_message(message, 70)
}
MuNetCommand.main()

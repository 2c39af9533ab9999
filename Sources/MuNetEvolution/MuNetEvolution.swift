/// The µ2Net evolutionary multitask system: population, parent sampling, mutations, scoring,
/// the evolution loop and the system directory. spec/algorithm.md describes the algorithm and
/// spec/formats.md ("System directory") the files.
public enum MuNetEvolution {}

/// The µ2Net evolutionary multitask system: population, parent sampling, mutations, scoring.
///
/// Status: not implemented yet; arrives with issue 4. This module exists so the package already
/// has the architecture's shape.
public enum MuNetEvolution {}

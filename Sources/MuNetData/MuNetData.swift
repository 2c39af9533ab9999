/// Datasets: IDX, NPY and CSV loaders, deterministic splits, shuffles and augmentation.
///
/// Status: not implemented yet; arrives with issue 3. This module exists so the package already
/// has the architecture's shape.
public enum MuNetData {}

/// Storage: SHA-256, canonical file layouts and atomic writes.
public enum MuNetStorage {}

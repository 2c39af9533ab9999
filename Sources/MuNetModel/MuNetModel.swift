/// The ViT components muNet evolves (`embedding`, `cls`, `posembed_input`, `encoderblock_i`,
/// `residual_adapter_i`, `encoder_norm`, `head`).
///
/// Status: not implemented yet; the model arrives with issue 3 ("The ViT model with exact
/// backprop"). This module exists so the package already has the architecture's shape.
public enum MuNetModel {}

import MuNetRuntime

/// One named parameter group of a ViT path (µ2Net's unit of sharing, cloning and freezing):
/// `embedding`, `cls`, `posembed_input`, `residual_adapter_i`, `encoderblock_i`,
/// `encoder_norm` or `head`.
///
/// Components are reference types: several paths may use the same frozen component. Each one
/// owns its parameters (and gradients, when trainable) in a ``ParameterStore``; activations
/// live in a ``ViTWorkspace``, so one component serves any batch size.
public protocol ViTComponent: AnyObject {
  /// The component's parameters (and gradients when trainable).
  var parameters: ParameterStore { get }
}

extension ViTComponent {
  /// The component's name, e.g. `encoderblock_0`.
  public var name: String { parameters.componentName }
  /// True when the component has gradient buffers and backward computes its gradients.
  public var trainable: Bool { parameters.trainable }
  /// Number of scalar parameters.
  public var parameterCount: Int { parameters.parameterCount }
}

/// The specs of a LayerNorm at `prefix` (`<prefix>/scale` ones, `<prefix>/bias` zeros).
func layerNormSpecs(_ prefix: String, width: Int) -> [ParameterSpec] {
  [
    ParameterSpec(name: prefix + "/scale", shape: Shape(width), initializer: .ones),
    ParameterSpec(name: prefix + "/bias", shape: Shape(width), initializer: .zeros),
  ]
}

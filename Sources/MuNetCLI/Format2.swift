extension String {
  /// A number with two decimals (presentation only).
  init(format2 value: Double) {
    let scaled = (value * 100).rounded()
    let whole = Int(scaled / 100)
    let fraction = Int(abs(scaled).truncatingRemainder(dividingBy: 100))
    let sign = value < 0 && whole == 0 ? "-" : ""
    self = "\(sign)\(whole).\(fraction < 10 ? "0" : "")\(fraction)"
  }
}

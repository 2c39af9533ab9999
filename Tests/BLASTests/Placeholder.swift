import Testing
@Test func placeholder_BLASTests() { #expect(Bool(true)) }

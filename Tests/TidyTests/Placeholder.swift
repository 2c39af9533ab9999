import Testing
@Test func placeholder_TidyTests() { #expect(Bool(true)) }

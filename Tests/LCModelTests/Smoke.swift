import XCTest
final class LCModelTestsSmoke: XCTestCase { func testNothing() {} }

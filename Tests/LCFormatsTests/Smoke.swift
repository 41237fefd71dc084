import XCTest
final class LCFormatsTestsSmoke: XCTestCase { func testNothing() {} }

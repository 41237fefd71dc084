import XCTest
final class LCTokenizersTestsSmoke: XCTestCase { func testNothing() {} }

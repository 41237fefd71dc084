import XCTest
final class LCKernelsTestsSmoke: XCTestCase { func testNothing() {} }

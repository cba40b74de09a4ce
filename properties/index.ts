/** Property-based tests of the delivery invariants, and contract suites shared by implementations. */
export {};

/** The fake Okta used by tests is the simulator the demo ships. */
export * from '../../src/simulator/okta-simulator';

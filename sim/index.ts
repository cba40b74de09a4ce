/** The simulated world: a seeded discrete-event runtime that runs the pure core under faults. */
export {};

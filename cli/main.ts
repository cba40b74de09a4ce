/** The `stadium` command: one entry point for the simulator, property checks, replay, serving and benchmarks. */
process.stdout.write('stadium: the simulator arrives next (issue 3).\n');
